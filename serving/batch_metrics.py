"""Metrics of the daily batch (issue 5), pushed to a Pushgateway when one is configured."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge

from serving.batch.run import BatchSummary
from serving.pushgateway import push_metrics


def push_batch(url: str, summary: BatchSummary) -> bool:
    registry = CollectorRegistry()
    last = Gauge(
        "ocs_batch_last_success_timestamp_seconds",
        "When the daily batch last finished",
        registry=registry,
    )
    rows = Counter(
        "ocs_batch_rows_total", "Orders of the batch by result", ["result"], registry=registry
    )
    duration = Gauge(
        "ocs_batch_duration_seconds", "Wall time of the last batch run", registry=registry
    )
    rows.labels("scored").inc(summary.scored)
    rows.labels("rejected").inc(summary.rejected)
    duration.set(summary.seconds)
    last.set(time.time())
    return push_metrics(url, registry, "ocs-batch")
