"""Builds the HTTP API (FastAPI); the same app runs in Ray Serve and under plain uvicorn."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from serving import canary_api, errors, outcomes_api
from serving.auth import KeyRing, require
from serving.backends import PredictionBackend
from serving.config import ApiKey, Scope, Settings
from serving.email import router as email_routes
from serving.email.backend import EmailBackend
from serving.idempotency import idempotent
from serving.limits import BodyLimitMiddleware
from serving.metrics import Metrics, MetricsMiddleware
from serving.predict import PredictService
from serving.schemas import Health, ModelsResponse, PredictRequest, PredictResponse
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
) -> FastAPI:
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
    async def prometheus() -> Response:
        """Prometheus metrics of this replica."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", response_model=ModelsResponse, tags=["models"])
    async def models(service: ServiceDep, _: PredictKey) -> ModelsResponse:
        """The model being served, its features and its evaluation metrics."""
        return ModelsResponse(
            models=[await service.model_info()], risk_thresholds=await service.risk_thresholds()
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
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
