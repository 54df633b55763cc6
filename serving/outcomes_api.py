"""``POST /v1/outcomes``: what really happened to orders, idempotent per order (issue 5)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ConfigDict, Field

from serving.auth import require
from serving.config import ApiKey, Scope
from serving.errors import ApiError
from serving.idempotency import idempotent
from serving.store.store import Store

router = APIRouter(tags=["outcomes"])
PredictKey = Annotated[ApiKey, Depends(require(Scope.predict))]


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=128)
    outcome: Literal["fulfilled", "cancelled"]
    occurred_at: datetime | None = Field(None, description="when it happened; default: now")


class OutcomesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcomes: list[OutcomeIn] = Field(min_length=1, max_length=10_000)


class OutcomesResponse(BaseModel):
    recorded: int = Field(description="outcomes stored for the first time")
    updated: int = Field(description="orders whose earlier outcome this report corrected")
    unchanged: int = Field(description="repeats of an outcome already stored")
    unknown_orders: list[str] = Field(description="order ids never scored here: not stored")


class OutcomeMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.outcomes = Counter(
            "ocs_outcomes_total",
            "Order outcomes received: fulfilled, cancelled, or unknown_order (not stored)",
            ["outcome"],
            registry=registry,
        )


async def _store(request: Request) -> Store:
    store: Store | None = getattr(request.app.state, "store", None)
    if store is None:
        raise ApiError(503, "store_disabled", "no system of record is configured in this app")
    return store


StoreDep = Annotated[Store, Depends(_store)]


@router.post("/v1/outcomes", response_model=OutcomesResponse)
async def post_outcomes(
    body: OutcomesRequest, store: StoreDep, request: Request, _: PredictKey
) -> JSONResponse:
    """Outcomes of scored orders; repeating a report changes nothing, unknown orders come back."""

    async def run() -> tuple[int, OutcomesResponse]:
        items: list[tuple[str, str, datetime | None]] = [
            (o.order_id, o.outcome, o.occurred_at) for o in body.outcomes
        ]
        report = await asyncio.to_thread(store.record_outcomes, items)
        metrics: OutcomeMetrics = request.app.state.outcome_metrics
        unknown = set(report.unknown_orders)
        for o in body.outcomes:
            metrics.outcomes.labels("unknown_order" if o.order_id in unknown else o.outcome).inc()
        return 200, OutcomesResponse(
            recorded=report.recorded,
            updated=report.updated,
            unchanged=report.unchanged,
            unknown_orders=report.unknown_orders,
        )

    return await idempotent(request, "outcomes", body, run)
