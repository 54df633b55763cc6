"""The HTTP API, once through the real Ray Serve app and once in-process over ASGI."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from serving.api import create_app
from serving.auth import all_keys
from serving.backends import LocalBackend
from serving.payload import orders_from_frame
from tests.integration.conftest import wait_ready
from training.bands import band
from training.explain import explain
from training.registry import Registry


@pytest.fixture(scope="module", params=["asgi", pytest.param("ray", marks=pytest.mark.integration)])
def client(request, deployment) -> Iterator[httpx.Client]:
    if request.param == "ray":
        url = request.getfixturevalue("ray_serve_url")
        with httpx.Client(base_url=url, timeout=60) as c:
            yield c
        return
    settings = deployment.settings()
    backend = LocalBackend(Registry(settings.registry_path), settings.model_tag)
    with TestClient(create_app(backend, settings, all_keys(settings))) as c:
        wait_ready(c, timeout=60)
        yield c


@pytest.fixture(scope="module")
def auth(deployment) -> dict[str, str]:
    return {"Authorization": f"Bearer {deployment.keys['full']}"}


@pytest.fixture(scope="module")
def orders(orders_df, spec) -> list[dict]:
    return orders_from_frame(orders_df.tail(200), spec)


def _error(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]


def test_predict_returns_probability_risk_and_version(client, auth, orders, deployment, trained):
    r = client.post("/v1/predict", json={"orders": orders[:3]}, headers=auth)
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    version = deployment.tag.split(":")[1]
    assert [p["order_id"] for p in preds] == [o["order_id"] for o in orders[:3]]
    bands = deployment.settings().risk_thresholds(trained.artifact.bands)
    for p in preds:
        assert 0 < p["probability"] < 1
        assert p["risk"] == band(p["probability"], bands)
        assert p["model_version"] == version and p["track"] == "stable"
        assert p["factors"] is None


def test_explain_returns_top_factors_that_sum_to_the_log_odds(client, auth, orders, trained):
    body = {"orders": orders[:4], "explain": True, "top_k": 50}
    r = client.post("/v1/predict", json=body, headers=auth)
    assert r.status_code == 200, r.text
    spec = trained.artifact.spec
    records = [{**o["features"], spec.dealer_column: o["dealer_id"]} for o in orders[:4]]
    encoded = trained.artifact.preprocessor.transform_records(records)
    expl = explain(trained.artifact, encoded)
    for i, p in enumerate(r.json()["predictions"]):
        factors = p["factors"]
        assert {f["feature"] for f in factors} == set(spec.features)
        sizes = [abs(f["contribution"]) for f in factors]
        assert sizes == sorted(sizes, reverse=True)
        for f in factors:
            assert f["value"] == records[i][f["feature"]]
        total = sum(f["contribution"] for f in factors)
        assert total == pytest.approx(expl.logits[i] - expl.baseline_logit, abs=1e-3)
    short = client.post("/v1/predict", json={**body, "top_k": 3}, headers=auth).json()
    assert all(len(p["factors"]) == 3 for p in short["predictions"])


def test_http_scores_equal_the_dataframe_path(client, auth, orders, orders_df, trained):
    r = client.post("/v1/predict", json={"orders": orders}, headers=auth)
    assert r.status_code == 200, r.text
    served = np.array([p["probability"] for p in r.json()["predictions"]])
    batch = trained.artifact.predict_frame(orders_df.tail(200))
    np.testing.assert_allclose(served, batch, atol=1e-6, rtol=0)


def _mutate(orders, fn):
    payload = json.loads(json.dumps(orders[:2]))
    fn(payload)
    return {"orders": payload}


BAD_FEATURES = {
    "unknown": (lambda o: o[0]["features"].update(colour="red"), "colour"),
    "missing": (lambda o: o[1]["features"].pop("region"), "region"),
    "mistyped": (lambda o: o[0]["features"].update(order_value="lots"), "order_value"),
    "null_not_allowed": (lambda o: o[0]["features"].update(order_value=None), "order_value"),
    "bool_as_int": (lambda o: o[0]["features"].update(trade_in=1), "trade_in"),
    "dealer_mismatch": (lambda o: o[0]["features"].update(dealer_id="D999"), "dealer_id"),
}


@pytest.mark.parametrize("case", list(BAD_FEATURES))
def test_bad_features_get_422_naming_each_field(client, auth, orders, case):
    mutate, field = BAD_FEATURES[case]
    r = client.post("/v1/predict", json=_mutate(orders, mutate), headers=auth)
    assert r.status_code == 422, r.text
    err = _error(r)
    assert err["code"] == "invalid_features" and field in err["message"]
    assert any(d["field"].endswith(f"features.{field}") for d in err["details"])


def test_every_problem_is_reported_at_once(client, auth, orders):
    def many(o):
        o[0]["features"]["colour"] = "red"
        o[1]["features"]["deposit_share"] = "half"

    err = _error(client.post("/v1/predict", json=_mutate(orders, many), headers=auth))
    fields = {d["field"] for d in err["details"]}
    assert fields == {"orders.0.features.colour", "orders.1.features.deposit_share"}


@pytest.mark.parametrize(
    ("body", "status", "code", "mentions"),
    [
        ({"orders": []}, 422, "invalid_request", "orders"),
        ({}, 422, "invalid_request", "orders"),
        ({"orders": "all"}, 422, "invalid_request", "orders"),
        ({"orders": [{"features": {}}]}, 422, "invalid_request", "order_id"),
        ({"orders": [{"order_id": "a", "features": []}]}, 422, "invalid_request", "features"),
        ({"orders": [], "extra": 1}, 422, "invalid_request", "extra"),
        ([1, 2], 422, "invalid_request", "JSON object"),
        ("text", 422, "invalid_request", "JSON object"),
    ],
)
def test_malformed_requests_get_4xx_json(client, auth, body, status, code, mentions):
    r = client.post("/v1/predict", json=body, headers=auth)
    assert r.status_code == status, r.text
    err = _error(r)
    assert err["code"] == code and mentions in json.dumps(err)


def test_bad_json_is_400(client, auth):
    headers = {**auth, "Content-Type": "application/json"}
    r = client.post("/v1/predict", content=b'{"orders": [', headers=headers)
    assert r.status_code == 400
    assert _error(r)["code"] == "malformed_json"


def test_too_many_orders(client, auth, orders, deployment):
    limit = deployment.settings().max_orders_per_request
    many = [{**orders[0], "order_id": f"x{i}"} for i in range(limit + 1)]
    r = client.post("/v1/predict", json={"orders": many}, headers=auth)
    assert r.status_code == 422
    err = _error(r)
    assert err["code"] == "too_many_orders" and str(limit) in err["message"]


def test_body_too_large_is_413(client, auth, deployment):
    size = deployment.settings().max_body_bytes + 10
    headers = {**auth, "Content-Type": "application/json"}
    r = client.post("/v1/predict", content=b" " * size, headers=headers)
    assert r.status_code == 413 and _error(r)["code"] == "body_too_large"


def test_random_garbage_never_gives_500(client, auth, orders):
    rng = random.Random(7)
    values = [None, "", "x", -1, 1e308, True, [], {}, [1], {"a": 1}, "☃" * 50]
    for _ in range(60):
        payload = json.loads(json.dumps({"orders": orders[:2]}))
        target = payload["orders"][rng.randrange(2)]
        where = rng.choice(["order", "features", "top"])
        if where == "features":
            target["features"][rng.choice(list(target["features"]))] = rng.choice(values)
        elif where == "order":
            target[rng.choice(["order_id", "dealer_id", "features"])] = rng.choice(values)
        else:
            payload[rng.choice(["orders", "x"])] = rng.choice(values)
        r = client.post("/v1/predict", json=payload, headers=auth)
        assert r.status_code < 500, (payload, r.text)
        if r.status_code != 200:
            _error(r)


@pytest.mark.parametrize(
    ("key", "status"), [(None, 401), ("not-a-key", 401), ("emails", 403), ("predict", 200)]
)
def test_auth(client, deployment, orders, key, status):
    headers = {}
    if key:
        headers["Authorization"] = f"Bearer {deployment.keys.get(key, key)}"
    r = client.post("/v1/predict", json={"orders": orders[:1]}, headers=headers)
    assert r.status_code == status, r.text
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
    if status != 200:
        assert _error(r)["code"] in {"unauthorized", "forbidden"}
    assert client.get("/v1/models", headers=headers).status_code == status


def test_health_readiness_models_and_docs(client, auth, deployment):
    assert client.get("/healthz").json() == {"status": "ok", "detail": ""}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["detail"] == deployment.tag
    models = client.get("/v1/models", headers=auth).json()
    model = models["models"][0]
    assert model["tag"] == deployment.tag and model["spec"] == "dealer_orders"
    assert {f["name"] for f in model["features"]} >= {"order_value", "dealer_id"}
    assert model["metrics"]["test"]["roc_auc"] > 0.5
    assert set(models["risk_thresholds"]) == {"medium", "high"}
    assert "/v1/predict" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
    nope = client.get("/v2/nothing")
    assert nope.status_code == 404 and _error(nope)["code"] == "not_found"


def test_metrics_count_requests_and_predictions(client, auth, orders, deployment):
    client.post("/v1/predict", json={"orders": orders[:4]}, headers=auth)
    client.post("/v1/predict", json={"orders": []}, headers=auth)
    text = client.get("/metrics").text
    version = deployment.tag.split(":")[1]
    assert 'ocs_http_requests_total{method="POST",route="/v1/predict",status="200"}' in text
    assert 'ocs_http_requests_total{method="POST",route="/v1/predict",status="422"}' in text
    assert (
        'ocs_http_request_duration_seconds_count{method="POST",route="/v1/predict",status="422"}'
        in text
    )
    assert f'ocs_predictions_total{{model_version="{version}",risk=' in text


def test_not_ready_until_the_model_loads(deployment):
    settings = deployment.settings(model_tag="cancel-predictor:missing")
    backend = LocalBackend(Registry(settings.registry_path), settings.model_tag)
    with TestClient(create_app(backend, settings, all_keys(settings))) as c:
        for _ in range(100):  # the load runs in the background: wait for its verdict
            r = c.get("/readyz")
            if "still loading" not in r.text:
                break
            time.sleep(0.1)
        assert r.status_code == 503 and "missing" in r.json()["detail"]
        auth = {"Authorization": f"Bearer {deployment.keys['full']}"}
        r = c.post(
            "/v1/predict", json={"orders": [{"order_id": "a", "features": {}}]}, headers=auth
        )
        assert r.status_code == 503 and _error(r)["code"] == "model_not_ready"
