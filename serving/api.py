"""Builds the HTTP API (FastAPI); the same app runs in Ray Serve and under plain uvicorn."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from serving import canary_api, errors, outcomes_api
from serving.accuracy import AccuracyGauges, OutcomesProvider, RealizedAccuracy
from serving.auth import KeyRing, require
from serving.backends import PredictionBackend
from serving.config import ApiKey, Scope, Settings
from serving.email import router as email_routes
from serving.email.backend import EmailBackend
from serving.idempotency import idempotent
from serving.limits import BodyLimitMiddleware
from serving.logs import RequestIdMiddleware
from serving.metrics import Metrics, MetricsMiddleware
from serving.predict import PredictService
from serving.schemas import (
    Health,
    ModelInfo,
    ModelsResponse,
    PredictRequest,
    PredictResponse,
    WeeklyAccuracy,
)
from serving.store.recorder import PredictionRecorder, api_rows
from serving.store.store import Store

PredictKey = Annotated[ApiKey, Depends(require(Scope.predict))]


async def _service(request: Request) -> PredictService:
    service: PredictService = request.app.state.service
    return service


ServiceDep = Annotated[PredictService, Depends(_service)]


def create_app(
    backend: PredictionBackend,
    settings: Settings,
    keys: list[ApiKey],
    metrics: Metrics | None = None,
    emails: EmailBackend | None = None,
    store: Store | None = None,
    *,
    behind_serve: bool = False,
    outcomes: OutcomesProvider | None = None,
) -> FastAPI:
    """The HTTP app. ``behind_serve``: Ray Serve's HTTP server returns X-Request-ID itself.
    ``outcomes``: the store's ``prediction_outcomes(since)`` (realized accuracy in
    ``GET /v1/models`` and ``/metrics``); None where no store is connected."""
    app = FastAPI(
        title="Order Cancellation System",
        version="0.1.0",
        description="Scores orders for cancellation risk. All /v1 routes need a Bearer key.",
    )
    metrics = metrics or Metrics()
    app.state.keys = KeyRing(keys)
    app.state.service = PredictService(backend, settings, metrics)
    errors.install(app)
    email_routes.install(app, emails, metrics.registry)
    # the system of record (issue 5): outcomes, and every prediction recorded off the hot path
    app.state.store = store
    app.state.outcome_metrics = outcomes_api.OutcomeMetrics(metrics.registry)
    recorder = None
    if store is not None and settings.record_predictions:
        recorder = PredictionRecorder(store.db, settings.record_flush_s, settings.record_max_batch)
        app.router.add_event_handler("shutdown", recorder.close)
    app.state.recorder = recorder
    app.state.job_stream = None
    if store is not None and settings.redis_url:
        from serving.jobs.stream import JobStream

        app.state.job_stream = JobStream.from_url(
            settings.redis_url, settings.queue_stream, settings.queue_group
        )

    gauges = AccuracyGauges(metrics.registry)
    if outcomes is None and store is not None:
        outcomes = store.prediction_outcomes  # realized accuracy from the system of record
    realized = (
        RealizedAccuracy(
            outcomes,
            gauges,
            settings.realized_accuracy_window_days,
            settings.realized_accuracy_ttl_s,
        )
        if outcomes is not None
        else None
    )

    async def accuracy_figures(service: PredictService) -> ModelInfo:
        """The served model with its validation gauge set and, with a store, realized accuracy."""
        info = await service.model_info()
        gauges.set_validation(info.version, info.metrics)
        weekly = await realized.weekly() if realized is not None else None
        if weekly is not None:
            rows = weekly[weekly["model_version"] == info.version]
            info.realized_accuracy = [
                WeeklyAccuracy.model_validate(r)
                for r in rows.drop(columns=["model_version"]).to_dict("records")
            ]
        return info

    @app.get("/healthz", response_model=Health, tags=["ops"])
    async def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["ops"], responses={503: {}})
    async def readyz(service: ServiceDep) -> Response:
        """Readiness: the model is loaded and answers."""
        try:
            desc = await service.description()
        except errors.ApiError as exc:
            return JSONResponse(Health(status="not_ready", detail=exc.message).model_dump(), 503)
        return JSONResponse(Health(status="ready", detail=desc["tag"]).model_dump())

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def prometheus(service: ServiceDep) -> Response:
        """Prometheus metrics of this replica."""
        with contextlib.suppress(errors.ApiError):  # model not loaded: /readyz says so
            await accuracy_figures(service)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", response_model=ModelsResponse, tags=["models"])
    async def models(service: ServiceDep, _: PredictKey) -> ModelsResponse:
        """The model being served, its features and its evaluation metrics."""
        return ModelsResponse(
            models=[await accuracy_figures(service)],
            risk_thresholds=await service.risk_thresholds(),
        )

    @app.post("/v1/predict", response_model=PredictResponse, tags=["predict"])
    async def predict(
        body: PredictRequest, request: Request, service: ServiceDep, _: PredictKey
    ) -> Response:
        """Cancellation probability and risk band for 1 to N orders."""

        async def run() -> tuple[int, PredictResponse]:
            predictions = await service.predict(body)
            if recorder is not None:
                recorder.record(*api_rows(body.orders, predictions))
            return 200, PredictResponse(predictions=predictions)

        return await idempotent(request, "predict", body, run)

    app.include_router(canary_api.router)
    app.include_router(outcomes_api.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware, echo=not behind_serve)  # inside: 400s counted
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
