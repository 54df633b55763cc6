"""``GET /v1/canary``: the live split and this Gateway replica's per-track figures (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from serving.auth import require
from serving.config import ApiKey, Scope
from serving.errors import ApiError

router = APIRouter(tags=["canary"])
AdminKey = Annotated[ApiKey, Depends(require(Scope.admin))]


@router.get("/v1/canary")
async def canary_report(request: Request, _: AdminKey) -> dict[str, Any]:
    """Canary settings, model versions, counts, errors, latencies, scores, shadow agreement.

    Figures are this replica's since it started; `ocs canary status` and `analyze` read them.
    """
    backend = request.app.state.service.backend
    report = getattr(backend, "report", None)
    if report is None:
        raise ApiError(
            404,
            "canary_not_active",
            "this server has no canary routing (it runs without Ray Serve): use `ocs serve`",
        )
    await request.app.state.service.description()  # learns both tracks' versions
    result: dict[str, Any] = report()
    return result
