"""Turning a predict request into validated records, scores and risk bands."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from serving import logs
from serving.backends import PredictionBackend
from serving.canary_backend import Scored
from serving.config import ConfigError, Settings
from serving.errors import ApiError
from serving.metrics import Metrics
from serving.schemas import FeatureInfo, ModelInfo, OrderIn, Prediction, PredictRequest
from training.bands import band
from training.spec import FeatureSpec
from training.validation import check_records


def order_records(
    orders: Sequence[OrderIn], spec: FeatureSpec
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Feature records of API orders (dealer_id fills the dealer feature) and every problem."""
    dealer = spec.dealer_column
    records, details = [], []
    for i, order in enumerate(orders):
        features = dict(order.features)
        if dealer and order.dealer_id is not None:
            given = features.setdefault(dealer, order.dealer_id)
            if given != order.dealer_id:
                details.append(
                    {
                        "field": f"orders.{i}.features.{dealer}",
                        "message": f"{given!r} differs from dealer_id {order.dealer_id!r}",
                    }
                )
        records.append(features)
    details += [
        {"field": f"orders.{p.row}.features.{p.field}", "message": p.message}
        for p in check_records(spec, records)
    ]
    return records, details


class ModelNotReady(ApiError):
    def __init__(self, reason: str):
        super().__init__(503, "model_not_ready", f"the model is not loaded yet: {reason}")


class PredictService:
    def __init__(self, backend: PredictionBackend, settings: Settings, metrics: Metrics):
        self.backend = backend
        self.settings = settings
        self.metrics = metrics
        self._description: dict[str, Any] | None = None
        self._spec: FeatureSpec | None = None
        self._thresholds: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def description(self) -> dict[str, Any]:
        """The served model's tag and spec, fetched once from the backend."""
        if self._description is None:
            async with self._lock:
                if self._description is None:
                    try:
                        desc = await self.backend.describe()
                    except Exception as exc:
                        raise ModelNotReady(f"{type(exc).__name__}: {exc}") from exc
                    self._spec = FeatureSpec.from_dict(desc["spec"], source=desc["tag"])
                    try:
                        self._thresholds = self.settings.risk_thresholds(desc["risk_bands"])
                    except ConfigError as exc:
                        raise ModelNotReady(str(exc)) from exc
                    self._description = desc
        return self._description

    async def model_info(self) -> ModelInfo:
        desc = await self.description()
        spec = self._spec
        assert spec is not None
        return ModelInfo(
            tag=desc["tag"],
            version=desc["version"],
            spec=spec.name,
            created=desc["created"],
            features=[
                FeatureInfo(
                    name=name,
                    type=f.type.value,
                    nullable=f.missing_policy != "error",
                    description=f.description,
                )
                for name, f in spec.features.items()
            ],
            metrics=desc.get("metrics", {}),
        )

    async def risk_thresholds(self) -> dict[str, float]:
        await self.description()
        return self._thresholds

    def records(self, request: PredictRequest, spec: FeatureSpec) -> list[dict[str, Any]]:
        limit = self.settings.max_orders_per_request
        if len(request.orders) > limit:
            raise ApiError(
                422,
                "too_many_orders",
                f"{len(request.orders)} orders in one request; the limit is {limit}",
            )
        records, details = order_records(request.orders, spec)
        if details:
            names = sorted({d["field"].rsplit(".", 1)[-1] for d in details})
            raise ApiError(
                422,
                "invalid_features",
                f"orders don't match the features of model {spec.name}: {', '.join(names[:10])}",
                details,
            )
        return records

    async def predict(self, request: PredictRequest) -> list[Prediction]:
        desc = await self.description()
        assert self._spec is not None
        ids = [o.order_id for o in request.orders]
        logs.bind(order_id=ids[0] if len(ids) == 1 else None, order_ids=ids[: logs.MAX_IDS])
        records = self.records(request, self._spec)
        # explanations come from the stable model, whichever track scores the order
        if request.explain:
            scored, factors = await asyncio.gather(
                self._score(request, records, desc["version"]),
                self.backend.explain(records, request.top_k, self.settings.explain_steps),
            )
        else:
            scored, factors = await self._score(request, records, desc["version"]), None
        out = []
        for i, (order, s) in enumerate(zip(request.orders, scored, strict=True)):
            risk = band(s.probability, self._thresholds)
            self.metrics.predictions.labels(s.model_version, s.track, risk).inc()
            out.append(
                Prediction(
                    order_id=order.order_id,
                    dealer_id=order.dealer_id,
                    probability=s.probability,
                    risk=risk,  # type: ignore[arg-type]
                    model_version=s.model_version,
                    track=s.track,
                    factors=factors[i] if factors is not None else None,
                )
            )
        return out

    async def _score(
        self, request: PredictRequest, records: list[dict[str, Any]], version: str
    ) -> list[Scored]:
        """Per-order track and version from a canary-aware backend; else all stable."""
        tracked = getattr(self.backend, "predict_tracked", None)
        if tracked is not None:
            result: list[Scored] = await tracked([o.order_id for o in request.orders], records)
            return result
        return [Scored(p, "stable", version) for p in await self.backend.predict(records)]
