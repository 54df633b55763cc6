"""The model as the serving side sees it: load by tag, describe, score records."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from serving.metrics import ModelMetrics
from training.explain import explain, top_factors
from training.registry import Registry
from training.spec import FeatureSpec


class Scorer:
    """One loaded model version; shared by the Predictor deployment and the in-process backend."""

    def __init__(
        self,
        registry: Registry,
        tag: str,
        metrics: ModelMetrics | None = None,
        registry_uri: str = "",
    ):
        registry.ensure(tag, registry_uri)  # a version exported by the retraining pod
        self.record, self.artifact = registry.open(tag)
        self.metrics = metrics

    @property
    def spec(self) -> FeatureSpec:
        return self.artifact.spec

    def describe(self) -> dict[str, Any]:
        return {
            "tag": self.record.tag,
            "version": self.record.version,
            "created": self.record.created.isoformat(timespec="seconds"),
            "spec": self.spec.to_dict(),
            "metrics": self.record.metadata.get("metrics", {}),
            "risk_bands": self.artifact.bands,
        }

    def score(self, records: Sequence[Mapping[str, Any]]) -> list[float]:
        started = time.perf_counter()
        scores = [float(p) for p in self.artifact.predict_records(records)]
        if self.metrics is not None:
            self.metrics.observe(self.record.version, len(records), time.perf_counter() - started)
        return scores

    def explain(
        self, records: Sequence[Mapping[str, Any]], k: int, steps: int
    ) -> list[list[dict[str, Any]]]:
        """Top-k factors per order (integrated gradients, log-odds units)."""
        encoded = self.artifact.preprocessor.transform_records(records)
        return top_factors(explain(self.artifact, encoded, steps), records, k)
