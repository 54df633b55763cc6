"""Asynchronous emails (issue 5): ``POST /v1/emails`` with ``"async": true`` queues a job;
``GET /v1/emails/jobs/{id}`` reports it, with the email once it is written."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Literal

from fastapi import Request
from pydantic import BaseModel, Field

from serving.email.schemas import EmailDraft, EmailRequest
from serving.errors import ApiError
from serving.jobs.stream import JobStream
from serving.store import jobs
from serving.store.store import Store


class EmailCreate(EmailRequest):
    """An email request; ``async`` queues it for ``ocs worker`` instead of waiting."""

    async_: bool = Field(False, alias="async", description="202 with a job id instead of waiting")
    campaign_day: date | None = Field(
        None, description="one job per order and campaign day (default today, UTC)"
    )

    def email_request(self) -> EmailRequest:
        return EmailRequest.model_validate(
            self.model_dump(exclude={"async_", "campaign_day"}, mode="json")
        )


class JobStatus(BaseModel):
    id: str
    order_id: str
    campaign_day: date
    status: Literal["queued", "generating", "draft", "failed"]
    attempts: int
    error: str | None = Field(None, description="the last failure, when there was one")
    created: bool = Field(False, description="false: the job of this order and day existed")
    email: EmailDraft | None = Field(None, description="the draft once the job is done")


def _parts(request: Request) -> tuple[Store, JobStream]:
    store: Store | None = getattr(request.app.state, "store", None)
    stream: JobStream | None = getattr(request.app.state, "job_stream", None)
    if store is None or stream is None:
        raise ApiError(
            503,
            "queue_disabled",
            "asynchronous emails need the store and Redis: set OCS_REDIS_URL",
        )
    return store, stream


def _status(view: jobs.JobView, created: bool, email: EmailDraft | None) -> JobStatus:
    return JobStatus(
        id=view.id,
        order_id=view.order_id,
        campaign_day=view.campaign_day,
        status=view.status,  # type: ignore[arg-type]
        attempts=view.attempts,
        error=view.error,
        created=created,
        email=email,
    )


async def enqueue(request: Request, body: EmailCreate) -> JobStatus:
    store, stream = _parts(request)
    day = body.campaign_day or datetime.now(UTC).date()
    payload = body.email_request().model_dump(mode="json")

    def work() -> tuple[jobs.JobView, bool]:
        view, created = jobs.create_job(store.db, body.order_id, day, payload, source="api")
        if created:  # stored first: a crash before XADD is published later by a worker
            stream.publish([view.id])
            jobs.mark_published(store.db, [view.id])
        return view, created

    view, created = await asyncio.to_thread(work)
    return _status(view, created, None)


async def job_status(request: Request, job_id: str) -> JobStatus:
    store: Store | None = getattr(request.app.state, "store", None)
    if store is None:
        raise ApiError(503, "store_disabled", "no system of record is configured in this app")
    view = await asyncio.to_thread(jobs.get_job, store.db, job_id)
    if view is None:
        raise ApiError(404, "not_found", f"no email job with id {job_id!r} (ids look like job_...)")
    email = None
    if view.email_id:
        email = await asyncio.to_thread(jobs.get_email, store.db, view.email_id)
    return _status(view, False, email)
