"""The daily batch against real PostgreSQL and Redis: a 1,000-order synthetic day end to end
with the template engine, a second run that adds nothing, resuming after a crash, rejects."""

from __future__ import annotations

import asyncio
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from serving.batch.run import run_batch
from serving.batch.scoring import load_scoring
from serving.jobs.stream import JobStream
from serving.jobs.worker import Worker
from serving.store.db import Database
from serving.store.models import Email, EmailJob, Order, Prediction
from training import synth

pytestmark = pytest.mark.integration
DAY = date(2026, 12, 3)


@pytest.fixture(scope="module")
def day_orders() -> pd.DataFrame:
    return synth.generate(1000, seed=11)


def counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            table.__tablename__: s.scalar(select(func.count()).select_from(table)) or 0
            for table in (Order, Prediction, EmailJob, Email)
        }


def settings_for(deployment, db_url, tmp_path, **extra):
    return deployment.settings(
        database_url=db_url,
        email_engine="template",
        batch_rejects_dir=tmp_path / "rejects",
        **extra,
    )


@pytest.mark.slow
def test_a_synthetic_day_end_to_end_then_a_second_run_adds_nothing(
    deployment, pg_server, redis_url, stream_name, tmp_path, day_orders
):
    from serving.store.migrate import upgrade
    from tests.integration.store.conftest import fresh_pg

    url = fresh_pg(pg_server)
    upgrade(url)
    s = settings_for(deployment, url, tmp_path, redis_url=redis_url, queue_stream=stream_name)
    db = Database(url)
    stream = JobStream.from_url(redis_url, stream_name, s.queue_group)
    scoring = load_scoring(s)
    expected = scoring.artifact.predict_frame(day_orders)
    at_risk = set(day_orders["order_id"][expected >= scoring.email_threshold])
    assert 0 < len(at_risk) < 1000  # the test model flags some orders, not all

    summary = run_batch(
        s,
        db,
        scoring,
        day_orders,
        DAY,
        source_name="day",
        with_orders=True,
        stream=stream,
        progress=False,
    )
    assert (summary.scored, summary.rejected, summary.emails_queued) == (1000, 0, len(at_risk))
    assert sum(summary.risk.values()) == 1000
    stats = asyncio.run(Worker(s, db, stream).run(drain=True))
    assert stats.done == len(at_risk) and stats.dead_letters == 0
    after_first = counts(db)
    assert after_first == {
        "orders": 1000,
        "predictions": 1000,
        "email_jobs": len(at_risk),
        "emails": len(at_risk),
    }
    with db.session() as session:
        emailed = set(session.scalars(select(Email.order_id)))
        assert emailed == at_risk  # exactly one draft per order above the threshold
        assert set(session.scalars(select(EmailJob.status))) == {"draft"}
        stored = dict(session.execute(select(Prediction.order_id, Prediction.probability)).all())
    got = np.array([stored[o] for o in day_orders["order_id"]])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)

    again = run_batch(
        s,
        db,
        scoring,
        day_orders,
        DAY,
        source_name="day",
        with_orders=True,
        stream=stream,
        progress=False,
    )
    assert (again.scored, again.already_scored, again.emails_queued) == (0, 1000, 0)
    second = asyncio.run(Worker(s, db, stream).run(drain=True))
    assert second.done == 0
    assert counts(db) == after_first
    stream.close()
    db.dispose()


def test_a_run_that_dies_midway_finishes_on_the_next_run_without_duplicates(
    deployment, db_url, tmp_path, day_orders
):
    s = settings_for(deployment, db_url, tmp_path, batch_chunk_rows=100)
    db = Database(db_url)
    scoring = load_scoring(s)
    calls = {"n": 0}

    def dies_on_the_fourth_chunk(frame: pd.DataFrame) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("killed")
        return scoring.probabilities(frame)

    with pytest.raises(RuntimeError, match="killed"):
        run_batch(
            s,
            db,
            scoring,
            day_orders,
            DAY,
            source_name="day",
            with_orders=True,
            stream=None,
            progress=False,
            score=dies_on_the_fourth_chunk,
        )
    assert counts(db)["predictions"] == 300  # three chunks committed, the fourth not at all
    summary = run_batch(
        s,
        db,
        scoring,
        day_orders,
        DAY,
        source_name="day",
        with_orders=True,
        stream=None,
        progress=False,
    )
    assert (summary.already_scored, summary.scored) == (300, 700)
    with db.session() as session:
        per_order = session.execute(
            select(Prediction.order_id, func.count()).group_by(Prediction.order_id)
        ).all()
        jobs_per_order = session.execute(
            select(EmailJob.order_id, func.count()).group_by(EmailJob.order_id)
        ).all()
    assert len(per_order) == 1000 and {n for _, n in per_order} == {1}
    assert {n for _, n in jobs_per_order} <= {1}
    expected = scoring.artifact.predict_frame(day_orders) >= scoring.email_threshold
    assert len(jobs_per_order) == int(expected.sum())
    db.dispose()


def test_bad_rows_go_to_the_rejects_file_with_reasons(deployment, db_url, tmp_path, day_orders):
    s = settings_for(deployment, db_url, tmp_path)
    db = Database(db_url)
    scoring = load_scoring(s)
    frame = day_orders.head(20).copy()
    frame["order_value"] = frame["order_value"].astype(object)
    for column in ("trade_in", "order_date"):
        frame[column] = frame[column].astype(object)
    frame.loc[2, "order_value"] = "lots"
    frame.loc[3, "order_value"] = None  # the spec forbids a missing order value
    frame.loc[4, "trade_in"] = "maybe"
    frame.loc[5, "order_id"] = frame.loc[6, "order_id"]  # duplicate: the later row goes
    frame.loc[7, "order_date"] = "not-a-date"
    frame.loc[8, "order_value"] = float("inf")
    summary = run_batch(
        s,
        db,
        scoring,
        frame,
        DAY,
        source_name="day",
        with_orders=True,
        stream=None,
        progress=False,
    )
    assert (summary.rejected, summary.scored) == (6, 14)
    assert summary.rejects_file is not None
    rejects = pd.read_csv(summary.rejects_file)
    assert rejects["row"].tolist() == [3, 4, 5, 7, 8, 9]
    reasons = dict(zip(rejects["row"], rejects["reasons"], strict=True))
    assert reasons[3] == "order_value: not a number"
    assert reasons[4] == "order_value: must not be null"
    assert reasons[5] == "trade_in: not true or false"
    assert reasons[7] == "order_id: duplicate in this file"
    assert reasons[8] == "order_date: not a date"
    assert reasons[9] == "order_value: not a finite number"
    assert rejects.loc[0, "order_id"] == frame.loc[2, "order_id"]  # the row as it came
    with db.session() as session:
        stored = set(session.scalars(select(Prediction.order_id)))
    assert stored.isdisjoint({frame.loc[i, "order_id"] for i in (2, 3, 4, 8)})
    assert len(stored) == 14
    db.dispose()
