"""The peer a user would pick instead: the same model and checks as a BentoML service.

``bentoml serve benchmarks.bento_service:CancelService --port 3000`` (reads OCS_* settings).
It does what the Gateway does per request (key check, spec validation, scoring, risk band),
so the benchmark compares serving stacks, not amounts of work.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")

import bentoml

from serving.auth import KeyRing, all_keys
from serving.config import Scope, get_settings
from serving.errors import ApiError
from serving.predict import order_records
from serving.schemas import OrderIn
from serving.scoring import Scorer
from training.bands import band
from training.registry import Registry


@bentoml.service(workers=1, traffic={"timeout": 30, "concurrency": 256})
class CancelService:
    def __init__(self) -> None:
        self.settings = get_settings()
        self.scorer = Scorer(Registry(self.settings.registry_path), self.settings.model_tag)
        self.keys = KeyRing(all_keys(self.settings))
        self.thresholds = self.settings.risk_thresholds(self.scorer.artifact.bands)

    @bentoml.api(route="/v1/predict")
    async def predict(self, orders: list[OrderIn], ctx: bentoml.Context) -> dict[str, Any]:
        try:
            self.keys.check(ctx.request.headers.get("authorization"), Scope.predict)
        except ApiError as exc:
            ctx.response.status_code = exc.status
            return {"error": {"code": exc.code, "message": exc.message}}
        records, problems = order_records(orders, self.scorer.spec)
        if problems:
            ctx.response.status_code = 422
            return {"error": {"code": "invalid_features", "details": problems}}
        version = self.scorer.record.version
        return {
            "predictions": [
                {
                    "order_id": o.order_id,
                    "dealer_id": o.dealer_id,
                    "probability": p,
                    "risk": band(p, self.thresholds),
                    "model_version": version,
                    "track": "stable",
                }
                for o, p in zip(orders, self.scorer.score(records), strict=True)
            ]
        }
