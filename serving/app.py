"""Ray Serve application builder: ``serve run serving.app:build_app`` or the Serve config file."""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from serving.config import load_settings
from serving.deployments import Gateway, Predictor
from serving.email.deployment import EmailGenerator
from serving.multiprocess_metrics import actor_options


def build_app(args: dict[str, Any] | None = None) -> Application:
    """Gateway -> Predictor (+ PredictorCanary) and EmailGenerator. ``args`` override settings."""
    settings = load_settings(**(args or {}))
    shared = settings.for_replicas()
    # Per-request access logs cost more CPU than scoring an order; metrics count requests.
    # JSON lines carry Serve's request id (X-Request-ID), deployment and replica, plus ours.
    logging = {
        "enable_access_log": settings.serve_access_log,
        "log_level": settings.log_level,
        "encoding": settings.log_format.upper(),
    }
    # Every replica process of a node writes its metrics where the Gateway's /metrics reads them.
    metrics_dir = settings.metrics_dir
    gateway: Any = Gateway  # @serve.deployment turns the classes into Deployments
    predictor: Any = Predictor
    # Serve admits only 5 concurrent requests per replica by default; the Gateway's work is
    # mostly waiting on the Predictor, and coalescing needs many requests in flight.
    predictor_app = predictor.options(
        logging_config=logging,
        num_replicas=settings.predictor_replicas,
        max_ongoing_requests=settings.predictor_max_ongoing_requests,
        ray_actor_options=actor_options(metrics_dir, num_cpus=0),
    ).bind(shared)
    emails: Any = EmailGenerator
    email_app = emails.options(
        logging_config=logging,
        num_replicas=settings.email_replicas,
        max_ongoing_requests=settings.email_max_ongoing_requests,
        ray_actor_options=actor_options(metrics_dir, num_cpus=0, num_gpus=settings.email_num_gpus),
    ).bind(shared)
    # A canary model binds a second Predictor; the Gateway's user_config sets its weight.
    canary_app = None
    if settings.canary_model_tag:
        canary_app = predictor.options(
            name="PredictorCanary",
            logging_config=logging,
            num_replicas=settings.predictor_replicas,
            max_ongoing_requests=settings.predictor_max_ongoing_requests,
            ray_actor_options=actor_options(metrics_dir, num_cpus=0),
        ).bind(shared, settings.canary_model_tag)
    app: Application = gateway.options(
        logging_config=logging,
        num_replicas=settings.gateway_replicas,
        max_ongoing_requests=settings.gateway_max_ongoing_requests,
        ray_actor_options=actor_options(metrics_dir, num_cpus=0),
    ).bind(predictor_app, shared, email_app, canary_app)
    return app
