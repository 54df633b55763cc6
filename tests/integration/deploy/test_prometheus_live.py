"""Debian's real Prometheus scrapes the running Ray Serve app with the chart's rules loaded:
a recording rule and alert expressions evaluate on the samples it scraped."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from serving.payload import orders_from_frame
from tests import chart, prom
from tests.integration.conftest import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(prom.prometheus() is None, reason=f"prometheus: {prom.INSTALL_HINT}"),
    pytest.mark.skipif(chart.helm() is None, reason="helm not installed: run `make install`"),
]
# The latency threshold far below any real request, so OcsHighLatencyP95's condition holds on
# real traffic (pending: its `for` is minutes); the error-rate alert keeps its default.
THRESHOLDS = {"monitoring": {"prometheusRule": {"p95LatencyS": 0.000001}}}


class Prometheus:
    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=10)

    def query(self, expr: str) -> list[dict[str, Any]]:
        r = self.http.get("/api/v1/query", params={"query": expr})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.http.get("/api/v1/alerts").json()["data"]["alerts"]
        return alerts

    def targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = self.http.get("/api/v1/targets").json()["data"][
            "activeTargets"
        ]
        return targets


@pytest.fixture(scope="module")
def prometheus(
    ray_serve_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    tmp = tmp_path_factory.mktemp("prometheus")
    values = tmp / "values.yaml"
    values.write_text(yaml.safe_dump(THRESHOLDS))
    prom.write_rules(tmp / "rules.yaml", str(values))
    target = ray_serve_url.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp / "rules.yaml")],
        "scrape_configs": [
            {
                "job_name": "ocs",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [target]}],
            }
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    binary = prom.prometheus()
    assert binary
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.console.templates=",
            "--web.console.libraries=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        server = Prometheus(f"http://127.0.0.1:{port}")
        _until(lambda: _ready(server), 30, lambda: _log(tmp))
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _ready(server: Prometheus) -> bool:
    try:
        return server.http.get("/-/ready").status_code == 200
    except httpx.TransportError:
        return False


def _log(tmp: Path) -> str:
    return (tmp / "prometheus.log").read_text()[-3000:]


def _until(check: Any, timeout: float, why: Any = lambda: "") -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``why()`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s: {why()}")
        time.sleep(0.5)


def test_rules_evaluate_on_scraped_traffic(prometheus, ray_serve_url, deployment, orders_df, spec):
    orders = orders_from_frame(orders_df.tail(40), spec)
    headers = {"Authorization": f"Bearer {deployment.keys['predict']}"}
    with httpx.Client(base_url=ray_serve_url, headers=headers, timeout=60) as api:

        def traffic_is_recorded() -> list[dict[str, Any]]:
            for i in range(4):
                r = api.post("/v1/predict", json={"orders": orders[i * 10 : i * 10 + 10]})
                assert r.status_code == 200, r.text
            return prometheus.query(
                'route_status:ocs_http_requests:rate5m{route="/v1/predict",status="200"} > 0'
            )

        (recorded,) = _until(traffic_is_recorded, 60, prometheus.targets)
    assert float(recorded["value"][1]) > 0
    (up,) = prometheus.query('up{job="ocs"}')
    assert up["value"][1] == "1"

    # the recording rule of predictions by model version, from the Gateway's real counter
    version = deployment.tag.split(":")[1]
    scored = prometheus.query(
        f'model_version_track_risk:ocs_predictions:rate5m{{model_version="{version}"}}'
    )
    assert scored and {s["metric"]["track"] for s in scored} == {"stable"}

    # an alert expression that holds on this traffic (threshold lowered) ...
    alerts = prom.rules(prom.rule_groups(), "alert")
    latency = _until(
        lambda: [
            a
            for a in prometheus.alerts()
            if a["labels"]["alertname"] == "OcsHighLatencyP95"
            and a["labels"].get("route") == "/v1/predict"
        ],
        30,
        prometheus.alerts,
    )
    assert latency[0]["state"] == "pending"  # `for: 5m` has not passed
    # ... and one that does not: no 5xx answers, so the error ratio is 0, below 5%
    (ratio,) = prometheus.query("ocs:http_error_ratio:rate5m")
    assert float(ratio["value"][1]) == 0
    assert prometheus.query(alerts["OcsHighErrorRate"]["expr"]) == []
    assert not [a for a in prometheus.alerts() if a["labels"]["alertname"] == "OcsHighErrorRate"]
