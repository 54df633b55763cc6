"""Metrics of short-lived processes (batch, worker, CronJobs) pushed to a Prometheus Pushgateway."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, push_to_gateway

log = logging.getLogger(__name__)


def push_metrics(url: str, registry: CollectorRegistry, job: str, timeout_s: float = 5.0) -> bool:
    """Push ``registry`` under ``job``; an empty ``url`` pushes nothing.

    A push that fails is logged, not raised: the job's own work is done and recorded already,
    and the alert on a missing push (last-success time) catches a gateway that stays down.
    """
    if not url:
        return False
    try:
        push_to_gateway(url, job=job, registry=registry, timeout=timeout_s)
    except OSError as exc:
        log.warning("metrics of %s not pushed to %s: %s", job, url, exc)
        return False
    return True
