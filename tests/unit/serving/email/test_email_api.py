"""The email routes in-process over ASGI: auth scopes, the README example, fault drill, metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from serving.api import create_app
from serving.auth import all_keys
from serving.backends import LocalBackend
from serving.email.backend import LocalEmailBackend
from serving.email.service import EmailService
from tests.integration.conftest import free_port
from tests.unit.serving.email.orders import random_orders
from tests.unit.serving.email.readme import example_body
from training.registry import Registry


def make_client(deployment, **overrides) -> TestClient:
    settings = deployment.settings(**overrides)
    backend = LocalBackend(Registry(settings.registry_path), settings.model_tag)
    assert backend.wait(300), "the model did not load"  # it loads in the background
    emails = LocalEmailBackend(EmailService(settings))
    return TestClient(create_app(backend, settings, all_keys(settings), emails=emails))


@pytest.fixture(scope="module")
def client(deployment) -> Iterator[TestClient]:
    with make_client(deployment, email_engine="template") as c:
        yield c


def auth(deployment, name: str = "emails") -> dict[str, str]:
    return {"Authorization": f"Bearer {deployment.keys[name]}"}


def test_readme_example_returns_a_guarded_email_and_get_finds_it(client, deployment):
    r = client.post("/v1/emails", json=example_body(), headers=auth(deployment))
    assert r.status_code == 200, r.text
    email = r.json()
    assert email["verdict"] == {"passed": True, "reasons": []}
    assert email["order_id"] == "SO-1001" and "Dear Anna" in email["body"]
    assert email["prompt"] == "retention-email@2" and len(email["prompt_hash"]) == 64
    assert set(re.findall(r"code (\w+)", email["body"])) == {"WINTER5", "SERVICE1"}
    got = client.get(f"/v1/emails/{email['id']}", headers=auth(deployment))
    assert got.status_code == 200 and got.json() == email


def test_scopes_are_enforced(client, deployment):
    body = example_body()
    assert client.post("/v1/emails", json=body).status_code == 401
    r = client.post("/v1/emails", json=body, headers=auth(deployment, "predict"))
    assert r.status_code == 403 and "emails" in r.json()["error"]["message"]
    assert client.post("/v1/emails", json=body, headers=auth(deployment, "full")).status_code == 200


def test_bad_requests_say_what_to_fix(client, deployment):
    body = example_body()
    body["allowed_offers"][0]["percent"] = 150
    body["language"] = "xx"
    r = client.post("/v1/emails", json=body, headers=auth(deployment))
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert {"allowed_offers.0.percent", "language"} <= fields
    missing = client.get("/v1/emails/em_nope", headers=auth(deployment))
    assert missing.status_code == 404 and "em_nope" in missing.json()["error"]["message"]


def test_chat_with_the_template_engine_explains_what_to_configure(client, deployment):
    r = client.post(
        "/v1/chat/completions",
        json={"model": "x", "messages": [{"role": "user", "content": "hi"}]},
        headers=auth(deployment),
    )
    assert r.status_code == 400 and "OCS_EMAIL_ENGINE" in r.json()["error"]["message"]


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("how", ["fault_switch", "server_down"])
def test_engine_forced_to_fail_gives_every_request_a_correct_fallback(deployment, how):
    """Acceptance: the engine fails (fault switch, or its server is gone); every answer is a
    correct fallback, and the metrics show it."""
    overrides = {
        "email_engine": "openai",
        "openai_base_url": f"http://127.0.0.1:{free_port()}/v1",  # nothing listens there
        "email_fault": "raise" if how == "fault_switch" else "none",
        "email_retry_wait_s": 0.0,
        "email_breaker_failures": 3,
    }
    orders = random_orders(10, seed=11)
    with make_client(deployment, **overrides) as c:
        for body in orders:
            r = c.post("/v1/emails", json=body, headers=auth(deployment))
            assert r.status_code == 200, r.text
            email = r.json()
            assert email["fallback_used"] and email["verdict"]["passed"], email
            assert email["outcome"] in {"fallback_engine", "fallback_open"}
            assert email["fallback_reasons"]
            offered = set(re.findall(r"[Cc]ode ([\w-]+)\)", email["body"]))
            assert offered == {o["code"] for o in body["allowed_offers"]}
        metrics = c.get("/metrics").text
    engine_failures = _metric(metrics, "ocs_emails_total", outcome="fallback_engine")
    breaker_open = _metric(metrics, "ocs_emails_total", outcome="fallback_open")
    assert (engine_failures, breaker_open) == (3, 7)
    assert _metric(metrics, "ocs_emails_total", outcome="generated") == 0
