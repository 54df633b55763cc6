"""HTTP routes of email generation: /v1/emails and the OpenAI-compatible chat endpoint."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from serving.auth import require
from serving.config import ApiKey, Scope
from serving.email import jobs_api
from serving.email.backend import EmailBackend
from serving.email.metrics import EmailMetrics
from serving.email.schemas import ChatRequest, EmailDraft
from serving.errors import ApiError
from serving.idempotency import idempotent

router = APIRouter(tags=["emails"])
EmailsKey = Annotated[ApiKey, Depends(require(Scope.emails))]


async def _backend(request: Request) -> EmailBackend:
    backend: EmailBackend | None = request.app.state.emails
    if backend is None:
        raise ApiError(503, "emails_disabled", "email generation is not configured in this app")
    return backend


async def _metrics(request: Request) -> EmailMetrics:
    metrics: EmailMetrics = request.app.state.email_metrics
    return metrics


BackendDep = Annotated[EmailBackend, Depends(_backend)]
MetricsDep = Annotated[EmailMetrics, Depends(_metrics)]


@router.post(
    "/v1/emails", response_model=EmailDraft, responses={202: {"model": jobs_api.JobStatus}}
)
async def create_email(
    body: jobs_api.EmailCreate,
    request: Request,
    backend: BackendDep,
    metrics: MetricsDep,
    _: EmailsKey,
) -> Any:
    """A retention email for one order: generated and guarded, or the fallback with reasons.

    With ``"async": true``: 202 and a job (one per order and campaign day) for ``ocs worker``.
    """

    async def run() -> tuple[int, BaseModel]:
        if body.async_:
            return 202, await jobs_api.enqueue(request, body)
        draft = await backend.generate(body.email_request())
        metrics.observe(draft)
        return 200, draft

    return await idempotent(request, "emails", body, run)


@router.get("/v1/emails/jobs/{job_id}", response_model=jobs_api.JobStatus)
async def get_job(job_id: str, request: Request, _: EmailsKey) -> jobs_api.JobStatus:
    """An email job's status; the email once it is written, the error when it failed."""
    return await jobs_api.job_status(request, job_id)


@router.get("/v1/emails/{email_id}", response_model=EmailDraft)
async def get_email(email_id: str, backend: BackendDep, _: EmailsKey) -> EmailDraft:
    """An email generated earlier, by its id."""
    draft = await backend.get(email_id)
    if draft is None:
        raise ApiError(404, "not_found", f"no email with id {email_id!r} (ids look like em_...)")
    return draft


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatRequest, backend: BackendDep, _: EmailsKey) -> Any:
    """OpenAI-compatible chat completions served by the configured email engine."""
    return await backend.chat(body)


def install(app: FastAPI, backend: EmailBackend | None, registry: CollectorRegistry) -> None:
    app.state.emails = backend
    app.state.email_metrics = EmailMetrics(registry)
    app.include_router(router)
