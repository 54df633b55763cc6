"""Email jobs and emails in the system of record; the queue only carries job ids."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from serving.email.schemas import EmailDraft
from serving.store.db import Database
from serving.store.models import Email, EmailJob, utcnow
from serving.store.repository import insert_for


def new_job_id() -> str:
    return "job_" + uuid.uuid4().hex[:24]


@dataclass(frozen=True)
class JobView:
    id: str
    order_id: str
    campaign_day: date
    status: str
    attempts: int
    error: str | None
    email_id: str | None
    source: str
    created_at: datetime
    updated_at: datetime


def _view(job: EmailJob) -> JobView:
    return JobView(
        job.id,
        job.order_id,
        job.campaign_day,
        job.status,
        job.attempts,
        job.error,
        job.email_id,
        job.source,
        job.created_at,
        job.updated_at,
    )


def create_jobs(
    db: Database, conn: Any, rows: Sequence[dict[str, Any]]
) -> dict[tuple[str, date], str]:
    """Insert jobs unless (order, campaign day) has one; returns the ids of the new ones."""
    if not rows:
        return {}
    now = utcnow()
    values = [
        {
            "id": new_job_id(),
            "status": "queued",
            "attempts": 0,
            "source": "batch",
            "created_at": now,
            "updated_at": now,
            **row,
        }
        for row in rows
    ]
    stmt = insert_for(db, EmailJob.__table__).on_conflict_do_nothing(
        index_elements=["order_id", "campaign_day"]
    )
    conn.execute(stmt, values)
    ids = [v["id"] for v in values]
    found = conn.execute(select(EmailJob.id).where(EmailJob.id.in_(ids))).scalars()
    created = set(found)
    return {(v["order_id"], v["campaign_day"]): v["id"] for v in values if v["id"] in created}


def create_job(
    db: Database, order_id: str, day: date, request: dict[str, Any], source: str = "api"
) -> tuple[JobView, bool]:
    """The job of (order, day): a new one, or the one that exists (``created`` False)."""
    with db.engine.begin() as conn:
        created = create_jobs(
            db,
            conn,
            [{"order_id": order_id, "campaign_day": day, "request": request, "source": source}],
        )
    with db.session() as session:
        job = session.scalars(
            select(EmailJob).where(EmailJob.order_id == order_id, EmailJob.campaign_day == day)
        ).one()
        return _view(job), bool(created)


def get_job(db: Database, job_id: str) -> JobView | None:
    with db.session() as session:
        job = session.get(EmailJob, job_id)
        return _view(job) if job else None


def unpublished_jobs(db: Database, limit: int = 10_000) -> list[str]:
    """Queued jobs not yet on the stream (a process died between commit and XADD)."""
    with db.session() as session:
        query = select(EmailJob.id).where(
            EmailJob.status == "queued", EmailJob.enqueued_at.is_(None)
        )
        return list(session.scalars(query.order_by(EmailJob.created_at).limit(limit)))


def mark_published(db: Database, job_ids: Sequence[str]) -> None:
    now = utcnow()
    with db.engine.begin() as conn:
        for start in range(0, len(job_ids), 500):
            chunk = list(job_ids[start : start + 500])
            conn.execute(update(EmailJob).where(EmailJob.id.in_(chunk)).values(enqueued_at=now))


@dataclass(frozen=True)
class Claim:
    """What a worker got when it started a job."""

    state: str  # run | done | exhausted | missing
    attempts: int = 0
    request: dict[str, Any] | None = None


def claim(db: Database, job_id: str, max_attempts: int) -> Claim:
    """Start an attempt: count it before the work, so a job that kills workers still ends."""
    with db.session() as session:
        job = session.get(EmailJob, job_id, with_for_update=db.dialect == "postgresql")
        if job is None:
            return Claim("missing")
        if job.status in ("draft", "failed"):
            return Claim("done", job.attempts)
        if job.attempts >= max_attempts:
            return Claim("exhausted", job.attempts)
        job.status, job.attempts = "generating", job.attempts + 1
        return Claim("run", job.attempts, dict(job.request))


def finish(db: Database, job_id: str, draft: EmailDraft) -> bool:
    """Store the draft and close the job in one transaction; False if another run did it first."""
    try:
        with db.session() as session:
            job = session.get(EmailJob, job_id, with_for_update=db.dialect == "postgresql")
            if job is None or job.status == "draft":
                return False
            session.add(email_row(draft, job_id))
            job.status, job.email_id, job.error = "draft", draft.id, None
    except IntegrityError:  # the unique job_id: a duplicate delivery finished first
        return False
    return True


def record_failure(db: Database, job_id: str, error: str, final: bool) -> None:
    with db.session() as session:
        job = session.get(EmailJob, job_id)
        if job is not None and job.status != "draft":
            job.status, job.error = ("failed" if final else "queued"), error[:4000]


def requeue(db: Database, job_ids: Sequence[str]) -> list[str]:
    """Failed jobs back to ``queued`` with fresh attempts (the last error is kept until then)."""
    done = []
    with db.session() as session:
        for job_id in job_ids:
            job = session.get(EmailJob, job_id)
            if job is not None and job.status == "failed":
                job.status, job.attempts, job.enqueued_at = "queued", 0, None
                done.append(job_id)
    return done


def failed_jobs(db: Database, limit: int = 100) -> list[JobView]:
    with db.session() as session:
        query = select(EmailJob).where(EmailJob.status == "failed")
        return [
            _view(j)
            for j in session.scalars(query.order_by(EmailJob.updated_at.desc()).limit(limit))
        ]


def email_row(draft: EmailDraft, job_id: str | None = None) -> Email:
    return Email(
        id=draft.id,
        job_id=job_id,
        order_id=draft.order_id,
        status="draft",
        subject=draft.subject,
        body=draft.body,
        variant=draft.variant,
        prompt=draft.prompt,
        engine=draft.engine,
        model=draft.model,
        outcome=draft.outcome,
        guardrail_passed=draft.verdict.passed,
        guardrail={
            "reasons": draft.verdict.reasons,
            "failures": draft.guardrail_failures,
            "fallback_reasons": draft.fallback_reasons,
        },
        draft=draft.model_dump(mode="json"),
    )


def get_email(db: Database, email_id: str) -> EmailDraft | None:
    with db.session() as session:
        row = session.get(Email, email_id)
        return EmailDraft.model_validate(row.draft) if row else None


def put_email(db: Database, draft: EmailDraft) -> None:
    with db.session() as session:
        if session.get(Email, draft.id) is None:
            session.add(email_row(draft))


class SqlEmailStore:
    """``EmailStore`` on the system of record: GET /v1/emails/{id} reads what workers wrote."""

    def __init__(self, db: Database):
        self.db = db

    async def put(self, email: EmailDraft) -> None:
        await asyncio.to_thread(put_email, self.db, email)

    async def get(self, email_id: str) -> EmailDraft | None:
        return await asyncio.to_thread(get_email, self.db, email_id)

    async def close(self) -> None:
        return None
