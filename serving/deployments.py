"""Ray Serve deployments: the Gateway (HTTP ingress) and the Predictor (the model)."""

from __future__ import annotations

import asyncio
from typing import Any

import torch
from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from serving.api import create_app
from serving.auth import all_keys
from serving.backends import HandleBackend
from serving.canary import CanarySettings
from serving.canary_backend import CanaryBackend
from serving.config import load_settings
from serving.email.backend import HandleEmailBackend
from serving.metrics import Metrics
from serving.scoring import Scorer
from serving.store.store import Store
from training.registry import Registry


@serve.deployment(name="Predictor", ray_actor_options={"num_cpus": 0})
class Predictor:
    """Holds one model version; concurrent requests are scored together by ``@serve.batch``."""

    def __init__(self, settings: dict[str, Any], model_tag: str | None = None):
        self.settings = load_settings(**settings)
        # Intra-op threads only pay off for big batches; for online scoring their spin-waits
        # steal the cores the Gateway needs.
        torch.set_num_threads(self.settings.torch_threads)
        tag = model_tag or self.settings.model_tag
        self.scorer = Scorer(Registry(self.settings.registry_path), tag)
        self.reconfigure({})

    def reconfigure(self, config: dict[str, Any]) -> None:
        """Live tunables from the Serve config's ``user_config`` (no replica restart)."""
        size = int(config.get("max_batch_size", self.settings.predictor_max_batch_size))
        wait = float(config.get("batch_wait_timeout_s", self.settings.predictor_batch_wait_s))
        batched: Any = self.predict  # serve.batch adds the setters at run time
        batched.set_max_batch_size(size)
        batched.set_batch_wait_timeout_s(wait)

    def describe(self) -> dict[str, Any]:
        return self.scorer.describe()

    async def explain(
        self, records: list[dict[str, Any]], k: int, steps: int
    ) -> list[list[dict[str, Any]]]:
        """Not batched: explanations cost ~steps forward and backward passes per order."""
        return await asyncio.to_thread(self.scorer.explain, records, k, steps)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.0)
    async def predict(self, batches: list[list[dict[str, Any]]]) -> list[list[float]]:
        flat = [record for batch in batches for record in batch]
        scores = self.scorer.score(flat)
        out, start = [], 0
        for batch in batches:
            out.append(scores[start : start + len(batch)])
            start += len(batch)
        return out


@serve.deployment(name="Gateway", ray_actor_options={"num_cpus": 0})
@serve.ingress()
class Gateway:
    """HTTP ingress: auth, validation, risk bands and metrics; scoring goes to the Predictor."""

    def __init__(
        self,
        predictor: DeploymentHandle[Any],
        settings: dict[str, Any],
        emails: DeploymentHandle[Any] | None = None,
        canary: DeploymentHandle[Any] | None = None,
    ):
        self.settings = load_settings(**settings)
        metrics = Metrics()
        in_flight = self.settings.gateway_max_in_flight
        stable = HandleBackend(predictor, metrics, in_flight)
        canary_backend = HandleBackend(canary, metrics, in_flight) if canary else None
        replica = serve.get_replica_context().replica_id.unique_id
        self.router = CanaryBackend(stable, canary_backend, self.settings, metrics, replica)
        email_backend = HandleEmailBackend(emails) if emails is not None else None
        self.store = Store.from_settings(self.settings)  # refuses a schema that is behind
        self._asgi = create_app(
            self.router, self.settings, all_keys(self.settings), metrics, email_backend, self.store
        )

    def __del__(self) -> None:
        """Serve's replica shutdown: write the predictions still queued (nothing lost)."""
        state = getattr(getattr(self, "_asgi", None), "state", None)
        if state is not None and state.recorder is not None:
            state.recorder.close()

    def reconfigure(self, config: dict[str, Any]) -> None:
        """``user_config: {canary: {enabled, weight, shadow}}``: applied live, no restart."""
        self.router.configure(CanarySettings.from_user_config(config))

    def __serve_build_asgi_app__(self) -> FastAPI:
        return self._asgi
