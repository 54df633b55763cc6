"""Builds the HTTP API (FastAPI); the same app runs in Ray Serve and under plain uvicorn."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from serving import canary_api, errors
from serving.auth import KeyRing, require
from serving.backends import PredictionBackend
from serving.config import ApiKey, Scope, Settings
from serving.email import router as email_routes
from serving.email.backend import EmailBackend
from serving.limits import BodyLimitMiddleware
from serving.logs import RequestIdMiddleware
from serving.metrics import Metrics, MetricsMiddleware
from serving.predict import PredictService
from serving.schemas import Health, ModelsResponse, PredictRequest, PredictResponse

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
    *,
    behind_serve: bool = False,
) -> FastAPI:
    """``behind_serve``: Ray Serve's HTTP server returns X-Request-ID itself."""
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
    async def predict(body: PredictRequest, service: ServiceDep, _: PredictKey) -> PredictResponse:
        """Cancellation probability and risk band for 1 to N orders."""
        return PredictResponse(predictions=await service.predict(body))

    app.include_router(canary_api.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware, echo=not behind_serve)  # inside: 400s counted
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
