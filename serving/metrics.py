"""Prometheus metrics of the Gateway and the Predictor (prefix ``ocs_``, base units).

docs/metrics.md lists every metric; tests/unit/serving/test_metrics_catalog.py keeps the two
in step. In multiprocess mode (serving/multiprocess_metrics.py) /metrics shows all the
replica processes of the node, not just this one.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving import multiprocess_metrics

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        multiprocess_metrics.directory()  # exists before the first sample is written
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ocs_http_requests_total",
            "HTTP requests by route, method and status code",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ocs_http_request_duration_seconds",
            "HTTP request latency by route, method and status code",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.backend_batch = Histogram(
            "ocs_predictor_call_orders",
            "Orders per scoring call from this Gateway to the Predictor (after coalescing)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=self.registry,
        )
        self.backend_latency = Histogram(
            "ocs_predictor_call_duration_seconds",
            "Round trip of one scoring call from this Gateway to the Predictor",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "ocs_predictions_total",
            "Orders scored, by model version, track and risk band",
            ["model_version", "track", "risk"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return multiprocess_metrics.render(self.registry)


class ModelMetrics:
    """Counted in the process that runs the model (a Predictor replica, or in-process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        multiprocess_metrics.directory()
        self.registry = registry or CollectorRegistry()
        self.batch = Histogram(
            "ocs_model_batch_orders",
            "Orders per forward pass of the model (after Serve's batching), by model version",
            ["model_version"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096),
            registry=self.registry,
        )
        self.latency = Histogram(
            "ocs_model_inference_duration_seconds",
            "Time of one forward pass (features and model), by model version",
            ["model_version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, model_version: str, orders: int, elapsed_s: float) -> None:
        self.batch.labels(model_version).observe(orders)
        self.latency.labels(model_version).observe(elapsed_s)


class MetricsMiddleware:
    """Counts every HTTP request by its route template (never the raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(route, method, str(status)).inc()
            elapsed = time.perf_counter() - started
            self.metrics.latency.labels(route, method, str(status)).observe(elapsed)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
