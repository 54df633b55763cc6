"""Multiprocess mode: samples written by several processes come out of one render()."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving import multiprocess_metrics
from serving.metrics import Metrics

ROOT = Path(__file__).resolve().parents[3]

WRITER = """
import sys
from serving.metrics import Metrics, ModelMetrics
from serving.email.metrics import LlmMetrics
from serving.canary_backend import CanaryMetrics
n = int(sys.argv[1])
m = Metrics()
m.requests.labels("/v1/predict", "POST", "200").inc(n)
ModelMetrics().observe("7", n, 0.01)
LlmMetrics().latency.labels("local", "ok").observe(0.5)
CanaryMetrics(m).weight.set(n)
"""

READER = """
from serving.metrics import Metrics
import sys
sys.stdout.write(Metrics().render().decode())
"""


def _run(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_one_render_shows_the_samples_of_every_process(tmp_path):
    metrics_dir = multiprocess_metrics.prepare(tmp_path / "metrics")
    env = {**os.environ, multiprocess_metrics.ENV: str(metrics_dir), "PYTHONPATH": str(ROOT)}
    for n in (2, 3, 5):  # three replica processes, one after the other
        _run(WRITER, env, str(n))
    samples = _samples(_run(READER, env))
    route = (("method", "POST"), ("route", "/v1/predict"), ("status", "200"))
    assert samples[("ocs_http_requests_total", route)] == 10
    assert samples[("ocs_model_batch_orders_count", (("model_version", "7"),))] == 3
    assert samples[("ocs_model_batch_orders_sum", (("model_version", "7"),))] == 10
    llm = (("engine", "local"), ("outcome", "ok"))
    assert samples[("ocs_llm_request_duration_seconds_count", llm)] == 3
    assert samples[("ocs_canary_weight_percent", ())] == 5  # the most recent setting
    # canary errors start at zero for both tracks, so error ratios exist from the start
    assert samples[("ocs_track_errors_total", (("track", "canary"),))] == 0


def test_prepare_empties_a_previous_run(tmp_path):
    metrics_dir = multiprocess_metrics.prepare(tmp_path / "metrics")
    env = {**os.environ, multiprocess_metrics.ENV: str(metrics_dir), "PYTHONPATH": str(ROOT)}
    _run(WRITER, env, "4")
    assert list(metrics_dir.glob("*.db"))
    multiprocess_metrics.prepare(metrics_dir)
    assert not list(metrics_dir.glob("*.db"))


def test_a_process_started_without_the_variable_keeps_its_own_registry(tmp_path, monkeypatch):
    """This test process imported prometheus_client without the variable: setting it now must
    not switch /metrics to files this process never wrote."""
    monkeypatch.setenv(multiprocess_metrics.ENV, str(tmp_path))
    assert multiprocess_metrics.directory() is None
    m = Metrics()
    m.requests.labels("/healthz", "GET", "200").inc()
    assert b'ocs_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in m.render()


def test_actor_options_add_the_variable_only_when_a_directory_is_set():
    assert multiprocess_metrics.actor_options("", num_cpus=0) == {"num_cpus": 0}
    opts = multiprocess_metrics.actor_options("/tmp/m", num_cpus=0)
    assert opts == {
        "num_cpus": 0,
        "runtime_env": {"env_vars": {"PROMETHEUS_MULTIPROC_DIR": "/tmp/m"}},
    }


@pytest.mark.slow
def test_the_sidecar_serves_what_every_process_wrote(tmp_path):
    """`ocs metrics serve`: the pod's scrape, whichever Gateway a request would reach."""
    import socket
    import time

    import httpx

    metrics_dir = multiprocess_metrics.prepare(tmp_path / "metrics")
    env = {**os.environ, multiprocess_metrics.ENV: str(metrics_dir), "PYTHONPATH": str(ROOT)}
    for n in (1, 6):
        _run(WRITER, env, str(n))
    shown = _run(
        "from serving.cli import app; app()", env, "metrics", "show", "--dir", str(metrics_dir)
    )
    route = (("method", "POST"), ("route", "/v1/predict"), ("status", "200"))
    assert _samples(shown)[("ocs_http_requests_total", route)] == 7
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    plain_env = {k: v for k, v in env.items() if k != multiprocess_metrics.ENV}
    args = ["serve", "--dir", str(metrics_dir), "--port", str(port), "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "serving", "metrics", *args], env=plain_env, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "sidecar did not start"
                time.sleep(0.2)
        samples = _samples(text)
        assert samples[("ocs_http_requests_total", route)] == 7
        assert samples[("ocs_model_batch_orders_count", (("model_version", "7"),))] == 2
        _run(WRITER, env, "3")  # a replica that starts later is in the next scrape
        later = _samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
        assert later[("ocs_http_requests_total", route)] == 10
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
