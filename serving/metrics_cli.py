"""`ocs metrics`: the merged metrics of every Serve replica process of this node.

`ocs metrics serve` runs beside Ray in each pod (the chart's `metrics` sidecar), so that the
pod's scrape shows all its replica processes whichever Gateway a request would reach: behind
HAProxy a scrape of the Gateway's /metrics may be answered by a replica on another pod.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from serving.cli_common import fail

metrics_app = typer.Typer(help="Prometheus metrics of this node's replicas", no_args_is_help=True)
DirOption = Annotated[
    Path, typer.Option("--dir", help="the replicas' PROMETHEUS_MULTIPROC_DIR (OCS_METRICS_DIR)")
]


def merged(path: Path) -> CollectorRegistry:
    if path.exists() and not path.is_dir():
        fail(f"{path} is not a directory")
    path.mkdir(parents=True, exist_ok=True)  # the sidecar may start before any replica
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    return registry


@metrics_app.command("show")
def show(directory: DirOption) -> None:
    """Print the merged samples once (Prometheus text format)."""
    typer.echo(generate_latest(merged(directory)).decode(), nl=False)


@metrics_app.command("serve")
def serve(
    directory: DirOption,
    port: Annotated[int, typer.Option(min=1, max=65535)] = 9464,
    host: str = "0.0.0.0",
) -> None:
    """Serve the merged samples on http://HOST:PORT/metrics until SIGTERM or SIGINT."""
    registry = merged(directory)
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}")
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    typer.echo(f"serving the metrics of {directory} on http://{host}:{port}/metrics", err=True)
    done.wait()
    server.shutdown()
    thread.join(timeout=5)
