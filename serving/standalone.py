"""The same API in one plain uvicorn process, without Ray (baseline and small installs).

``uvicorn serving.standalone:create --factory --port 8000``
"""

from __future__ import annotations

import torch
from fastapi import FastAPI

from serving import logs
from serving.api import create_app
from serving.auth import all_keys
from serving.backends import LocalBackend
from serving.config import get_settings
from serving.email.backend import LocalEmailBackend
from serving.email.service import EmailService
from serving.metrics import Metrics, ModelMetrics
from serving.store.store import Store
from training.registry import Registry


def create() -> FastAPI:
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    torch.set_num_threads(settings.torch_threads)
    metrics = Metrics()  # one process: model and LLM metrics join the Gateway's registry
    model_metrics = ModelMetrics(metrics.registry)
    backend = LocalBackend(Registry(settings.registry_path), settings.model_tag, model_metrics)
    store = Store.from_settings(settings)  # refuses a schema that is behind (issue 5)
    emails = LocalEmailBackend(
        EmailService(settings, registry=metrics.registry, store=store.emails)
    )
    return create_app(backend, settings, all_keys(settings), metrics, emails, store=store)
