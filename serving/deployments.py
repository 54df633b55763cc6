"""Ray Serve deployments: the Gateway (HTTP ingress) and the Predictor (the model)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import torch
from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from serving import logs
from serving.api import create_app
from serving.auth import all_keys
from serving.backends import HandleBackend, ScoringCall
from serving.canary import CanarySettings
from serving.canary_backend import CanaryBackend
from serving.config import load_settings
from serving.email.backend import HandleEmailBackend
from serving.metrics import Metrics, ModelMetrics
from serving.scoring import Scorer
from serving.store.store import Store
from training.registry import Registry

log = logging.getLogger(__name__)


@serve.deployment(name="Predictor", ray_actor_options={"num_cpus": 0})
class Predictor:
    """Holds one model version; concurrent requests are scored together by ``@serve.batch``."""

    def __init__(self, settings: dict[str, Any], model_tag: str | None = None):
        self.settings = load_settings(**settings)
        logs.attach_to_serve(self.settings.log_level)
        # Intra-op threads only pay off for big batches; for online scoring their spin-waits
        # steal the cores the Gateway needs.
        torch.set_num_threads(self.settings.torch_threads)
        tag = model_tag or self.settings.model_tag
        self.scorer = Scorer(
            Registry(self.settings.registry_path), tag, ModelMetrics(), self.settings.registry_uri
        )
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
    async def predict(self, calls: list[ScoringCall]) -> list[list[float]]:
        """Concurrent calls scored in one pass; their tags name requests and orders in the log."""
        flat = [record for call in calls for record in call["records"]]
        scores = self.scorer.score(flat)
        self._log(flat, [tag for call in calls for tag in call["tags"]])
        out, start = [], 0
        for call in calls:
            out.append(scores[start : start + len(call["records"])])
            start += len(call["records"])
        return out

    def _log(self, records: list[dict[str, Any]], tags: list[list[str | None]]) -> None:
        request_ids = list(dict.fromkeys(rid for rid, _ in tags if rid))
        order_ids = [oid for _, oid in tags if oid]
        fields: dict[str, Any] = {
            "model_version": self.scorer.record.version,
            "request_ids": request_ids,
            "order_ids": order_ids[: logs.MAX_IDS],
        }
        if len(request_ids) == 1:
            fields["request_id"] = request_ids[0]
        if len(order_ids) == 1:
            fields["order_id"] = order_ids[0]
        log.info("scored %d orders of %d requests", len(records), len(request_ids), extra=fields)


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
        logs.attach_to_serve(self.settings.log_level)
        metrics = Metrics()
        in_flight = self.settings.gateway_max_in_flight
        stable = HandleBackend(predictor, metrics, in_flight)
        canary_backend = HandleBackend(canary, metrics, in_flight) if canary else None
        replica = serve.get_replica_context().replica_id.unique_id
        self.router = CanaryBackend(stable, canary_backend, self.settings, metrics, replica)
        email_backend = HandleEmailBackend(emails) if emails is not None else None
        self.store = Store.from_settings(self.settings)  # refuses a schema that is behind
        self._asgi = create_app(
            self.router,
            self.settings,
            all_keys(self.settings),
            metrics,
            email_backend,
            self.store,
            behind_serve=True,
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
