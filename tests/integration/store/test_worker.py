"""The email worker against real Redis and PostgreSQL: a SIGKILL mid-job loses nothing and
does nothing twice; a job that keeps failing ends in the dead letters with its error."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from serving.config import load_settings
from serving.jobs.stream import JobStream
from serving.jobs.worker import Worker, email_id_for
from serving.store import jobs
from serving.store.db import Database
from serving.store.models import Email, EmailJob
from tests.unit.serving.email.orders import random_orders

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
DAY = date(2026, 12, 3)


def enqueue(db: Database, stream: JobStream, n: int) -> list[str]:
    """Orders never seen before: the email cache in the shared Redis can't answer for them."""
    ids = []
    for request in random_orders(n, seed=random.randrange(2**31)):
        job, created = jobs.create_job(db, request["order_id"], DAY, request)
        assert created
        ids.append(job.id)
    stream.ensure_group()
    stream.publish(ids)
    jobs.mark_published(db, ids)
    return ids


def statuses(db: Database) -> dict[str, str]:
    with db.session() as s:
        return {j.id: j.status for j in s.scalars(select(EmailJob))}


def worker_env(db_url: str, redis_url: str, stream: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCS_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "OCS_STATE_DIR": str(tmp / "state"),
        "OCS_DATABASE_URL": db_url,
        "OCS_REDIS_URL": redis_url,
        "OCS_QUEUE_STREAM": stream,
        "OCS_EMAIL_ENGINE": "template",
        "OCS_WORKER_CONCURRENCY": "1",
        "OCS_WORKER_CLAIM_IDLE_S": "1",
        **extra,
    }
    return env


def wait_for(predicate, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sigkill_mid_job_then_a_new_worker_finishes_every_job_exactly_once(
    db_url, redis_url, stream_name, tmp_path
):
    db = Database(db_url)
    stream = JobStream.from_url(redis_url, stream_name, "ocs-workers")
    ids = enqueue(db, stream, 6)
    # The first worker's engine hangs (fault switch): it is inside generation when killed.
    hanging = worker_env(
        db_url,
        redis_url,
        stream_name,
        tmp_path,
        OCS_EMAIL_FAULT="timeout",
        OCS_EMAIL_TIMEOUT_S="600",
        OCS_EMAIL_RETRIES="0",
    )
    first = subprocess.Popen(
        [sys.executable, "-m", "serving", "worker"],
        env=hanging,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: "generating" in statuses(db).values(), what="a job in generation")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    assert first.returncode == -signal.SIGKILL
    in_hand = [j for j, st in statuses(db).items() if st == "generating"]
    assert len(in_hand) == 1
    assert stream.stats().pending == 1  # delivered to the dead worker, never acknowledged

    healthy = worker_env(db_url, redis_url, stream_name, tmp_path)
    second = subprocess.run(
        [sys.executable, "-m", "serving", "worker", "--drain"],
        env=healthy,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert set(statuses(db).values()) == {"draft"}
    with db.session() as s:
        per_job = dict(s.execute(select(Email.job_id, func.count()).group_by(Email.job_id)).all())
        killed = s.get(EmailJob, in_hand[0])
        assert killed is not None and killed.attempts == 2  # the killed attempt counted
        assert killed.email_id == email_id_for(killed.id)
    assert per_job == dict.fromkeys(ids, 1)  # every job exactly once
    stats = stream.stats()
    assert (stats.undelivered, stats.pending) == (0, 0)
    stream.close()
    db.dispose()


def test_a_job_failing_every_attempt_goes_to_the_dead_letters_with_its_error(
    db_url, redis_url, stream_name, tmp_path
):
    db = Database(db_url)
    stream = JobStream.from_url(redis_url, stream_name, "ocs-workers")
    (job_id,) = enqueue(db, stream, 1)
    settings = load_settings(
        state_dir=tmp_path,
        email_engine="template",
        email_fault="raise",
        email_retries=0,
        worker_max_attempts=3,
        worker_retry_wait_s=0,
        worker_claim_idle_s=30,
        redis_url=redis_url,
        queue_stream=stream_name,
    )
    waiting = stream.stats()
    assert (waiting.undelivered, waiting.pending, waiting.dead_letters) == (1, 0, 0)
    worker = Worker(settings, db, stream)
    stats = asyncio.run(worker.run(drain=True))
    assert (stats.done, stats.retried, stats.dead_letters) == (0, 2, 1)
    sample = worker.registry.get_sample_value
    assert sample("ocs_queue_jobs_total", {"outcome": "retried"}) == 2
    assert sample("ocs_queue_dead_letters_total", {"stream": stream_name}) == 1
    assert sample("ocs_queue_depth", {"stream": stream_name}) == 0
    assert stream.stats().dead_letters == 1
    job = jobs.get_job(db, job_id)
    assert job is not None and job.status == "failed" and job.attempts == 3
    assert job.error and "OCS_EMAIL_FAULT=raise" in job.error
    (letter,) = stream.dead_letters()
    assert letter["job"] == job_id and letter["attempts"] == "3"
    assert "OCS_EMAIL_FAULT=raise" in letter["error"]
    assert [j.id for j in jobs.failed_jobs(db)] == [job_id]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Email)) == 0
    # the CLI shows it too
    env = worker_env(db.url, redis_url, stream_name, tmp_path)
    shown = subprocess.run(
        [sys.executable, "-m", "serving", "worker", "dead-letters"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0 and job_id in shown.stdout and "fault switch" in shown.stdout
    # the engine is back: an operator requeues the job and a worker writes it
    again = subprocess.run(
        [sys.executable, "-m", "serving", "worker", "requeue", job_id],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and "requeued 1 jobs" in again.stdout, again.stderr
    healthy = settings.model_copy(update={"email_fault": "none"})
    assert asyncio.run(Worker(healthy, db, stream).run(drain=True)).done == 1
    job = jobs.get_job(db, job_id)
    assert job is not None and job.status == "draft" and job.attempts == 1 and job.error is None
    stream.close()
    db.dispose()


def test_a_slow_job_is_not_taken_over_while_its_worker_lives(
    db_url, redis_url, stream_name, tmp_path
):
    db = Database(db_url)
    stream = JobStream.from_url(redis_url, stream_name, "ocs-workers")
    (job_id,) = enqueue(db, stream, 1)
    common = {
        "state_dir": tmp_path,
        "email_engine": "template",
        "redis_url": redis_url,
        "queue_stream": stream_name,
        "worker_claim_idle_s": 0.5,
        "worker_max_attempts": 1,
    }
    # A's engine hangs for 3 s (then the call times out): six claim timeouts in hand.
    slow = Worker(
        load_settings(**common, email_fault="timeout", email_timeout_s=3, email_retries=0),
        db,
        stream,
    )
    other = Worker(load_settings(**common), db, stream)
    other.consumer += "-other"

    async def both():
        first = asyncio.create_task(slow.run(drain=True))
        await asyncio.sleep(0.5)  # A holds the job before B starts looking
        return await asyncio.gather(first, other.run(drain=True))

    a, b = asyncio.run(both())
    job = jobs.get_job(db, job_id)
    assert job is not None and job.attempts == 1  # B never started a second attempt
    assert (a.dead_letters, b.dead_letters, b.done) == (1, 0, 0)
    assert job.status == "failed" and "timed out" in (job.error or "")
    stream.close()
    db.dispose()
