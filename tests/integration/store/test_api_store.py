"""The HTTP API on the system of record (in-process over ASGI, real databases and Redis):
predictions recorded, outcomes, async email jobs, Idempotency-Key, and the batch and the API
giving the same probability for the same order."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from serving.api import create_app
from serving.auth import all_keys
from serving.backends import LocalBackend
from serving.batch.run import run_batch
from serving.batch.scoring import load_scoring
from serving.email.backend import LocalEmailBackend
from serving.email.service import EmailService
from serving.jobs.stream import JobStream
from serving.jobs.worker import Worker
from serving.store.models import Prediction
from serving.store.store import Store
from tests.unit.serving.email.orders import order as email_order
from training import synth
from training.registry import Registry

pytestmark = pytest.mark.integration
DAY = date(2026, 12, 3)


def app_for(settings):
    store = Store.from_settings(settings)
    backend = LocalBackend(Registry(settings.registry_path), settings.model_tag)
    assert backend.wait(300), "the model did not load"  # it loads in the background
    emails = LocalEmailBackend(EmailService(settings, store=store.emails))
    return create_app(backend, settings, all_keys(settings), emails=emails, store=store), store


def auth(deployment, name="full"):
    return {"Authorization": f"Bearer {deployment.keys[name]}"}


def api_orders(frame: pd.DataFrame, spec) -> list[dict]:
    out = []
    for row in frame.to_dict("records"):
        features = {n: row[n] for n in spec.features}
        for k, v in features.items():
            if isinstance(v, float) and pd.isna(v):
                features[k] = None
        out.append(
            {"order_id": row["order_id"], "dealer_id": row["dealer_id"], "features": features}
        )
    return out


def test_batch_and_api_give_the_same_probability_and_both_are_recorded(
    deployment, db_url, tmp_path, spec
):
    # the writer would wait a minute: only the shutdown flush can have written the predictions
    settings = deployment.settings(database_url=db_url, email_engine="template", record_flush_s=60)
    frame = synth.generate(50, seed=21)
    scoring = load_scoring(settings)
    app, store = app_for(settings)
    run_batch(
        settings,
        store.db,
        scoring,
        frame,
        DAY,
        source_name="day",
        with_orders=True,
        stream=None,
        progress=False,
    )
    orders = api_orders(frame.head(8), spec)
    with TestClient(app) as client:
        one = [
            client.post("/v1/predict", json={"orders": [o]}, headers=auth(deployment))
            for o in orders
        ]
    # leaving the client shut the app down: the writer flushed every prediction
    assert all(r.status_code == 200 for r in one), one[0].text
    api = {r.json()["predictions"][0]["order_id"]: r.json()["predictions"][0] for r in one}
    with store.db.session() as s:
        rows = s.execute(
            select(Prediction.order_id, Prediction.source, Prediction.probability)
        ).all()
    batch = {o: p for o, src, p in rows if src == "batch"}
    recorded = {o: p for o, src, p in rows if src == "api"}
    assert len(batch) == 50 and set(recorded) == set(api)
    for order_id, prediction in api.items():
        assert prediction["probability"] == pytest.approx(batch[order_id], abs=1e-6)
        assert recorded[order_id] == prediction["probability"]
    store.close()


def test_outcomes_are_idempotent_per_order_and_unknown_orders_come_back(deployment, db_url, spec):
    settings = deployment.settings(
        database_url=db_url, record_flush_s=0.05, realized_accuracy_ttl_s=0
    )
    app, store = app_for(settings)
    frame = synth.generate(6, seed=22)
    orders = api_orders(frame, spec)
    when = datetime(2026, 11, 30, 12, tzinfo=UTC)
    keyed = {**auth(deployment), "Idempotency-Key": "predict-1"}
    with TestClient(app) as client:
        r = client.post("/v1/predict", json={"orders": orders}, headers=keyed)
        assert r.status_code == 200
        replay = client.post("/v1/predict", json={"orders": orders}, headers=keyed)
        assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == r.json()
    served = {p["order_id"]: p for p in r.json()["predictions"]}
    app, _ = app_for(settings)
    body = {
        "outcomes": [
            {
                "order_id": orders[0]["order_id"],
                "outcome": "cancelled",
                "occurred_at": when.isoformat(),
            },
            {"order_id": orders[1]["order_id"], "outcome": "fulfilled"},
            {"order_id": "SO-NEVER-SEEN", "outcome": "cancelled"},
        ]
    }
    with TestClient(app) as client:
        first = client.post("/v1/outcomes", json=body, headers=auth(deployment))
        again = client.post("/v1/outcomes", json=body, headers=auth(deployment))
        body["outcomes"][1]["outcome"] = "cancelled"  # a correction from the order system
        fixed = client.post("/v1/outcomes", json=body, headers=auth(deployment))
        bad = client.post(
            "/v1/outcomes",
            json={"outcomes": [{"order_id": "x", "outcome": "lost"}]},
            headers=auth(deployment),
        )
        metrics = client.get("/metrics").text
        models = client.get("/v1/models", headers=auth(deployment)).json()["models"]
    # realized accuracy: the two predictions with an outcome, both cancelled after the fix
    (week,) = models[0]["realized_accuracy"]
    flagged = [served[o["order_id"]]["probability"] >= 0.5 for o in orders[:2]]
    assert (week["track"], week["orders"], week["cancel_rate"]) == ("stable", 2, 1.0)
    assert week["accuracy"] == sum(flagged) / 2
    assert f'ocs_realized_accuracy{{model_version="{models[0]["version"]}"' in metrics
    assert first.json() == {
        "recorded": 2,
        "updated": 0,
        "unchanged": 0,
        "unknown_orders": ["SO-NEVER-SEEN"],
    }
    assert again.json() == {
        "recorded": 0,
        "updated": 0,
        "unchanged": 2,
        "unknown_orders": ["SO-NEVER-SEEN"],
    }
    assert fixed.json()["updated"] == 1 and fixed.json()["unchanged"] == 1
    assert bad.status_code == 422
    assert 'ocs_outcomes_total{outcome="unknown_order"} 3.0' in metrics

    joined = store.prediction_outcomes()
    assert list(joined.columns) == [
        "order_id",
        "model_version",
        "track",
        "probability",
        "risk",
        "predicted_at",
        "outcome",
        "occurred_at",
    ]
    assert sorted(joined["order_id"]) == sorted(o["order_id"] for o in orders[:2])
    first_row = joined.set_index("order_id").loc[orders[0]["order_id"]]
    assert first_row["outcome"] == "cancelled" and first_row["occurred_at"] == when
    assert first_row["probability"] == served[orders[0]["order_id"]]["probability"]
    assert store.prediction_outcomes(since=datetime.now(UTC) + timedelta(days=1)).empty
    with store.db.session() as session:  # the replayed request was not recorded again
        assert session.scalar(select(func.count()).select_from(Prediction)) == len(orders)

    training = store.training_frame(spec)
    assert list(training.columns) == [
        spec.id_column,
        *spec.features,
        spec.label.column,
        "order_date",
    ]
    assert sorted(training[spec.label.column]) == [1, 1]  # both cancelled after the fix
    row = training.set_index(spec.id_column).loc[orders[0]["order_id"]]
    assert row["order_value"] == orders[0]["features"]["order_value"]
    store.close()


def test_async_email_job_with_idempotency_key_and_one_job_per_order_and_day(
    deployment, db_url, redis_url, stream_name
):
    settings = deployment.settings(
        database_url=db_url,
        email_engine="template",
        redis_url=redis_url,
        queue_stream=stream_name,
        worker_claim_idle_s=30,
    )
    app, store = app_for(settings)
    body = {**email_order(order_id="SO-ASYNC-1"), "async": True, "campaign_day": "2026-12-03"}
    headers = {**auth(deployment, "emails"), "Idempotency-Key": "req-1"}
    with TestClient(app) as client:
        queued = client.post("/v1/emails", json=body, headers=headers)
        replay = client.post("/v1/emails", json=body, headers=headers)
        reused = client.post("/v1/emails", json={**body, "notes": "other"}, headers=headers)
        same_day = client.post("/v1/emails", json=body, headers=auth(deployment, "emails"))
        assert queued.status_code == 202, queued.text
        job = queued.json()
        assert job["status"] == "queued" and job["created"] and job["id"].startswith("job_")
        assert replay.status_code == 202 and replay.json() == job
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert reused.status_code == 422
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        assert same_day.status_code == 202
        assert same_day.json()["id"] == job["id"] and not same_day.json()["created"]

        stream = JobStream.from_url(redis_url, stream_name, settings.queue_group)
        stats = asyncio.run(Worker(settings, store.db, stream).run(drain=True))
        assert stats.done == 1
        done = client.get(f"/v1/emails/jobs/{job['id']}", headers=auth(deployment, "emails"))
        assert done.status_code == 200
        status = done.json()
        assert status["status"] == "draft" and status["attempts"] == 1
        email = status["email"]
        assert email["order_id"] == "SO-ASYNC-1" and "Dear Anna" in email["body"]
        got = client.get(f"/v1/emails/{email['id']}", headers=auth(deployment, "emails"))
        assert got.status_code == 200 and got.json() == email  # from the system of record
        missing = client.get("/v1/emails/jobs/job_nope", headers=auth(deployment, "emails"))
        assert missing.status_code == 404
    stream.close()
    store.close()
