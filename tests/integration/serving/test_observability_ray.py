"""Observability of the real Ray Serve app: one /metrics shows every replica process, and a
request id sent in comes back and appears in the JSON log lines of the downstream deployments."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.payload import orders_from_frame
from tests.unit.serving.email.readme import example_body

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def client(ray_serve_url, deployment) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {deployment.keys['full']}"}
    with httpx.Client(base_url=ray_serve_url, timeout=900, headers=headers) as c:
        yield c


@pytest.fixture(scope="module")
def orders(orders_df, spec) -> list[dict]:
    return orders_from_frame(orders_df.tail(20), spec)


def scrape(client: httpx.Client) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Samples by name from one GET /metrics."""
    r = client.get("/metrics")
    assert r.status_code == 200
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(
        v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items())
    )


def serve_log_lines(deployment_name: str) -> list[dict]:
    """JSON lines of every replica log file of one deployment in this Ray session."""
    import ray

    node = ray._private.worker._global_node  # the session this test process started
    logs = Path(node.get_session_dir_path()) / "logs" / "serve"
    lines = []
    for path in logs.glob(f"replica_ocs_{deployment_name}_*.log"):
        for line in path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return lines


def wait_for_line(deployment_name: str, request_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        for line in serve_log_lines(deployment_name):
            if line.get("request_id") == request_id:
                return line
        if time.monotonic() > deadline:
            raise AssertionError(f"no {deployment_name} log line with request_id {request_id}")
        time.sleep(0.5)


def test_one_scrape_shows_the_predictor_and_email_generator_processes(client, orders, deployment):
    version = deployment.tag.split(":")[1]
    before = scrape(client)
    for i in range(3):
        r = client.post("/v1/predict", json={"orders": orders[i * 5 : i * 5 + 5]})
        assert r.status_code == 200, r.text
    email = client.post("/v1/emails", json=example_body())
    assert email.status_code == 200, email.text
    after = scrape(client)
    # the Gateway's own samples
    name = "ocs_http_requests_total"
    predicted = {"route": "/v1/predict", "status": "200"}
    assert total(after, name, **predicted) - total(before, name, **predicted) == 3
    # samples only the Predictor process writes: its forward passes, by its model version
    passes = "ocs_model_batch_orders_count"
    scored = "ocs_model_batch_orders_sum"
    assert total(after, passes, model_version=version) > total(
        before, passes, model_version=version
    )
    assert total(after, scored, model_version=version) - total(
        before, scored, model_version=version
    ) == pytest.approx(15)
    # and only the EmailGenerator process: its engine calls (none for a cache hit)
    if not email.json()["cached"]:
        llm = "ocs_llm_request_duration_seconds_count"
        assert total(after, llm) > total(before, llm)
    assert total(after, "ocs_emails_total") > total(before, "ocs_emails_total")


def test_request_id_comes_back_and_reaches_the_predictor_log(client, orders, deployment):
    rid = f"test-{uuid.uuid4().hex}"
    r = client.post("/v1/predict", json={"orders": orders[:2]}, headers={"X-Request-ID": rid})
    assert r.status_code == 200, r.text
    assert r.headers.get_list("x-request-id") == [rid]
    line = wait_for_line("Predictor", rid)
    assert line["deployment"] == "ocs_Predictor"  # Serve's field: application_deployment
    assert line["model_version"] == deployment.tag.split(":")[1]
    assert line["order_ids"] == [o["order_id"] for o in orders[:2]]
    assert rid in line["request_ids"]


def test_request_id_reaches_the_email_generator_log(client):
    rid = f"test-{uuid.uuid4().hex}"
    body = {**example_body(), "order_id": f"ORD-{uuid.uuid4().hex[:8]}"}  # not cached
    r = client.post("/v1/emails", json=body, headers={"X-Request-ID": rid})
    assert r.status_code == 200, r.text
    assert r.headers.get_list("x-request-id") == [rid]
    line = wait_for_line("EmailGenerator", rid)
    assert line["deployment"] == "ocs_EmailGenerator" and line["order_id"] == body["order_id"]


def test_request_id_is_generated_when_absent_and_refused_when_malformed(client):
    r = client.get("/v1/models")
    assert r.status_code == 200
    (generated,) = r.headers.get_list("x-request-id")
    assert len(generated) >= 16
    bad = client.get("/v1/models", headers={"X-Request-ID": "no spaces allowed"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_request_id"
