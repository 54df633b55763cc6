"""Ray Serve application builder: ``serve run serving.app:build_app`` or the Serve config file."""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from serving.config import load_settings
from serving.deployments import Gateway, Predictor


def build_app(args: dict[str, Any] | None = None) -> Application:
    """Gateway -> Predictor. ``args`` override settings (same keys, lower case, no prefix)."""
    settings = load_settings(**(args or {}))
    shared = settings.for_replicas()
    gateway: Any = Gateway  # @serve.deployment turns the classes into Deployments
    predictor: Any = Predictor
    app: Application = gateway.bind(predictor.bind(shared), shared)
    return app
