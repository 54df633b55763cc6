"""Realized accuracy per model version and week, its gauges, and `GET /v1/models`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.accuracy import overall_accuracy, weekly_accuracy
from serving.api import create_app
from serving.auth import all_keys
from serving.backends import LocalBackend
from training import synth
from training.registry import Registry


def _ready(client):
    for _ in range(600):  # the model loads in the background
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.1)
    raise RuntimeError("the model did not load")


def _frame(rows):
    return pd.DataFrame(
        rows,
        columns=[
            *("order_id", "model_version", "track", "probability", "risk", "predicted_at"),
            *("outcome", "occurred_at"),
        ],
    )


def test_weekly_rows_by_hand():
    monday, sunday, next_monday = "2026-11-30T08:00Z", "2026-12-06T23:00Z", "2026-12-07T01:00Z"
    df = _frame(
        [
            ("a", "v1", "stable", 0.9, "high", monday, "cancelled", sunday),
            ("b", "v1", "stable", 0.2, "low", sunday, "cancelled", sunday),  # wrong
            ("c", "v1", "stable", 0.1, "low", next_monday, "fulfilled", next_monday),
            ("d", "v2", "canary", 0.6, "high", monday, "fulfilled", sunday),  # wrong
        ]
    )
    weekly = weekly_accuracy(df)
    rows = {(r.model_version, r.track, r.week): r for r in weekly.itertuples()}
    first = rows[("v1", "stable", "2026-11-30")]
    assert first.orders == 2 and first.accuracy == 0.5
    assert first.brier == pytest.approx((0.1**2 + 0.8**2) / 2) and first.cancel_rate == 1.0
    assert rows[("v1", "stable", "2026-12-07")].accuracy == 1.0
    assert rows[("v2", "canary", "2026-11-30")].accuracy == 0.0
    overall = overall_accuracy(df).set_index(["model_version", "track"])
    assert overall.loc[("v1", "stable"), "accuracy"] == pytest.approx(2 / 3)
    assert weekly_accuracy(df.iloc[:0]).empty
    with pytest.raises(ValueError, match="cancelled or fulfilled"):
        weekly_accuracy(df.assign(outcome="lost"))
    with pytest.raises(ValueError, match="lacks columns"):
        weekly_accuracy(df.drop(columns=["probability"]))


class Outcomes:
    """The hook as the store fills it: served predictions of real orders joined to outcomes."""

    def __init__(self, version, trained):
        orders = synth.generate(1200, seed=44)
        now = datetime.now(UTC)
        self.frame = pd.DataFrame(
            {
                "order_id": orders["order_id"],
                "model_version": version,
                "track": "stable",
                "probability": trained.artifact.predict_frame(orders),
                "risk": "low",
                "predicted_at": [now - timedelta(days=int(d)) for d in np.arange(1200) % 35],
                "outcome": orders["outcome"],
                "occurred_at": now,
            }
        )
        self.calls: list[datetime | None] = []

    def __call__(self, since):
        self.calls.append(since)
        return self.frame[self.frame["predicted_at"] >= since] if since else self.frame


def test_models_endpoint_and_metrics_show_realized_accuracy(deployment, trained):
    settings = deployment.settings()
    version = deployment.tag.split(":")[1]
    outcomes = Outcomes(version, trained)
    backend = LocalBackend(Registry(settings.registry_path), deployment.tag)
    app = create_app(backend, settings, all_keys(settings), outcomes=outcomes)
    headers = {"Authorization": f"Bearer {deployment.keys['predict']}"}
    with TestClient(app) as c:
        _ready(c)
        body = c.get("/v1/models", headers=headers).json()
        weeks = body["models"][0]["realized_accuracy"]
        within = outcomes.frame[outcomes.frame["predicted_at"] >= outcomes.calls[0]]
        assert sum(w["orders"] for w in weeks) == len(within) < 1200  # the 28-day window
        assert 4 <= len(weeks) <= 5 and weeks == sorted(weeks, key=lambda w: w["week"])
        assert all(0.6 < w["accuracy"] < 0.9 for w in weeks if w["orders"] > 100)
        text = c.get("/metrics").text
    expected = float(((within["probability"] >= 0.5) == (within["outcome"] == "cancelled")).mean())
    line = next(x for x in text.splitlines() if x.startswith("ocs_realized_accuracy{"))
    assert f'model_version="{version}"' in line and 'track="stable"' in line
    assert float(line.rsplit(" ", 1)[1]) == pytest.approx(expected)
    validation = next(x for x in text.splitlines() if x.startswith("ocs_model_validation_acc"))
    assert float(validation.rsplit(" ", 1)[1]) == pytest.approx(trained.metrics["test"]["accuracy"])
    assert len(outcomes.calls) == 1  # the store is read once per OCS_REALIZED_ACCURACY_TTL_S


def test_without_a_store_realized_accuracy_is_null(deployment):
    settings = deployment.settings()
    backend = LocalBackend(Registry(settings.registry_path), deployment.tag)
    headers = {"Authorization": f"Bearer {deployment.keys['predict']}"}
    with TestClient(create_app(backend, settings, all_keys(settings))) as c:
        _ready(c)
        assert c.get("/v1/models", headers=headers).json()["models"][0]["realized_accuracy"] is None
        text = c.get("/metrics").text
    assert "ocs_model_validation_accuracy{" in text
    assert "ocs_realized_accuracy{" not in text


def test_a_failing_store_leaves_the_endpoints_answering(deployment):
    settings = deployment.settings()
    backend = LocalBackend(Registry(settings.registry_path), deployment.tag)

    def down(since):
        raise ConnectionError("database unreachable")

    headers = {"Authorization": f"Bearer {deployment.keys['predict']}"}
    with TestClient(create_app(backend, settings, all_keys(settings), outcomes=down)) as c:
        _ready(c)
        models = c.get("/v1/models", headers=headers)
        assert models.status_code == 200 and models.json()["models"][0]["realized_accuracy"] is None
        metrics = c.get("/metrics")
    assert metrics.status_code == 200 and "ocs_model_validation_accuracy{" in metrics.text
