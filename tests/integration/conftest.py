"""The real Ray Serve application, started once per test session on a free local port."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from serving.auth import all_keys
from serving.config import load_settings

# The EmailGenerator runs the real SmolLM2 on these shared cores: short drafts, one attempt each,
# and room for a slow machine before the engine call counts as timed out.
EMAIL_SETTINGS = {"email_max_tokens": 96, "email_regenerations": 0, "email_timeout_s": 600}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(client: httpx.Client, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the service did not become ready")


@pytest.fixture(scope="session")
def ray_serve_url(deployment) -> Iterator[str]:
    ray = pytest.importorskip("ray")
    from serving import server

    # HAProxy's own stats and metrics ports default to fixed numbers; a running `make run`
    # would hold them, so the test cluster takes free ones.
    os.environ["RAY_SERVE_HAPROXY_STATS_PORT"] = str(free_port())
    os.environ["RAY_SERVE_HAPROXY_METRICS_PORT"] = str(free_port())
    port = free_port()
    settings = load_settings(state_dir=deployment.state_dir, **EMAIL_SETTINGS)
    assert len(all_keys(settings)) == 3
    server.start(settings, "127.0.0.1", port)
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=30) as client:
        wait_ready(client)
    try:
        yield url
    finally:
        server.stop()
        assert not ray.is_initialized()
