"""Metrics of the email job queue (issue 5), set by ``ocs worker`` and pushed to a Pushgateway."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class QueueMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.depth = Gauge(
            "ocs_queue_depth",
            "Jobs on the stream not yet delivered to any worker",
            ["stream"],
            registry=registry,
        )
        self.pending = Gauge(
            "ocs_queue_pending",
            "Jobs delivered to a worker and not yet acknowledged",
            ["stream"],
            registry=registry,
        )
        self.lag = Gauge(
            "ocs_queue_lag_seconds",
            "Age of the oldest job not yet done (undelivered or pending)",
            ["stream"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "ocs_queue_dead_letters_total",
            "Jobs moved to the dead-letter stream after their last failed attempt",
            ["stream"],
            registry=registry,
        )
        self.jobs = Counter(
            "ocs_queue_jobs_total",
            "Job attempts by how they ended: done, retried or dead_letter",
            ["outcome"],
            registry=registry,
        )
