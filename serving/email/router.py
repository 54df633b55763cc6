"""HTTP routes of email generation: /v1/emails and the OpenAI-compatible chat endpoint."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import CollectorRegistry

from serving.auth import require
from serving.config import ApiKey, Scope
from serving.email.backend import EmailBackend
from serving.email.metrics import EmailMetrics
from serving.email.schemas import ChatRequest, EmailDraft, EmailRequest
from serving.errors import ApiError

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


@router.post("/v1/emails", response_model=EmailDraft)
async def create_email(
    body: EmailRequest, backend: BackendDep, metrics: MetricsDep, _: EmailsKey
) -> EmailDraft:
    """A retention email for one order: generated and guarded, or the fallback with reasons."""
    draft = await backend.generate(body)
    metrics.observe(draft)
    return draft


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
