"""`ocs serve`: a local Ray cluster running the Serve application on host:port."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from serving import multiprocess_metrics
from serving.config import Settings

# Measured on two cores: HAProxy ingress plus throughput-optimized Serve lift a FastAPI
# deployment from ~60 to ~500 requests/s. Ray's own metrics pipeline (its agent aggregates
# every replica's request metrics) took a quarter of a core under load, so a local `ocs serve`
# leaves it off; the Gateway's /metrics still counts every request. Set before Ray starts.
SERVE_ENV = {
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_enable_metrics_collection": "0",
    # Throughput-optimized Serve buffers 1000 log records per replica before writing; ours are
    # one line per forward pass or email (access logs are off), so write each as it comes.
    "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": "1",
}
_made_metrics_dir: list[str] = []  # a directory start() made, removed by stop()


def start(settings: Settings, host: str, port: int, **init: Any) -> None:
    """Start Ray (no dashboard) and deploy the application; returns once it is running."""
    for name, value in SERVE_ENV.items():
        os.environ.setdefault(name, value)
    import ray
    from ray import serve

    from serving.app import build_app

    # "local" always starts a cluster of our own; joining another process's cluster (a
    # leftover `ray start`, a second test session) would deploy into someone else's Serve.
    init.setdefault("address", "local")
    # One node here: all replica processes write their metrics to one fresh directory, which
    # the Gateway's /metrics merges.
    metrics_dir = settings.metrics_dir
    if not metrics_dir:
        metrics_dir = tempfile.mkdtemp(prefix="ocs-metrics-")
        _made_metrics_dir.append(metrics_dir)
    multiprocess_metrics.prepare(Path(metrics_dir))
    settings = settings.model_copy(update={"metrics_dir": metrics_dir})
    ray.init(include_dashboard=False, **init)
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app(settings.for_replicas()), name="ocs", route_prefix="/", blocking=False)


def stop() -> None:
    import ray
    from ray import serve

    serve.shutdown()  # type: ignore[no-untyped-call]
    ray.shutdown()
    while _made_metrics_dir:
        shutil.rmtree(_made_metrics_dir.pop(), ignore_errors=True)


def run_forever(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM (Kubernetes), then shut Serve and Ray down cleanly."""
    done = threading.Event()
    start(settings, host, port)
    # After ray.init, which installs a crash handler for SIGTERM; explicit for SIGINT too,
    # since a background shell job starts with SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        done.wait()
    finally:
        stop()
