"""One scrape shows every Serve replica process of a node: prometheus_client multiprocess mode.

Each replica (Gateway, Predictor, EmailGenerator) is its own process with its own registry, so a
scrape of the Gateway used to show only the Gateway replica that answered it. With
``Settings.metrics_dir`` set, every replica process starts with ``PROMETHEUS_MULTIPROC_DIR``
pointing there (Ray puts it in the process's environment through the deployment's runtime_env,
before prometheus_client is imported) and writes its samples to files in it; the Gateway's
``/metrics`` merges the files of all processes on its node. Counters and histograms of replicas
that died keep counting (their files stay), so totals never go backwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

ENV = "PROMETHEUS_MULTIPROC_DIR"


def directory() -> str | None:
    """The directory this process writes its samples to; None in single-process mode.

    Both conditions matter: prometheus_client chose its value class when it was imported, so a
    variable set later (by a test, say) must not switch this process's /metrics to files that
    it never wrote.
    """
    path = os.environ.get(ENV)
    if not path or values.ValueClass is values.MutexValue:
        return None
    os.makedirs(path, exist_ok=True)  # before the first sample is written
    return path


def render(registry: CollectorRegistry) -> bytes:
    """This node's merged samples in multiprocess mode, else ``registry``'s own."""
    path = directory()
    if path is None:
        return generate_latest(registry)
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=path)  # type: ignore[no-untyped-call]
    return generate_latest(merged)


def prepare(path: Path) -> Path:
    """Create ``path``, or empty it of a previous run's files (their pids may come back)."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path


def actor_options(metrics_dir: str, **options: Any) -> dict[str, Any]:
    """``ray_actor_options`` whose process writes to ``metrics_dir`` (empty: unchanged)."""
    if metrics_dir:
        env = options.setdefault("runtime_env", {}).setdefault("env_vars", {})
        env[ENV] = metrics_dir
    return options
