"""Sticky weighted canary and shadow mode in front of two Predictor backends.

Each order goes to the track ``assign_track(order_id, weight)`` picks; each track keeps its own
backend (and so its own coalescing). A canary call that fails is answered by stable, counted as
a canary error, so a broken canary costs figures, not requests. In shadow mode stable answers
every order and the canary scores the same orders in the background for agreement.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from serving import logs
from serving.backends import PredictionBackend
from serving.canary import CanarySettings, Track, split
from serving.canary_stats import CanaryStats
from serving.config import ConfigError, Settings
from serving.metrics import LATENCY_BUCKETS, Metrics
from training.bands import FALLBACK, band

log = logging.getLogger(__name__)
RETRY_DESCRIBE_S = 5.0
DESCRIBE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Scored:
    probability: float
    track: Track
    model_version: str


class CanaryMetrics:
    def __init__(self, metrics: Metrics):
        registry = metrics.registry
        self.weight = Gauge(
            "ocs_canary_weight_percent",
            "Percent of orders the canary track answers (0 in shadow mode)",
            registry=registry,
            multiprocess_mode="mostrecent",  # the last setting any Gateway replica applied
        )
        self.errors = Counter(
            "ocs_track_errors_total",
            "Failed scoring calls by track (failed canary calls are answered by stable)",
            ["track"],
            registry=registry,
        )
        for track in ("stable", "canary"):  # zero from the start: error ratios need both
            self.errors.labels(track)
        self.latency = Histogram(
            "ocs_track_scoring_duration_seconds",
            "Scoring latency of one request's orders by track, coalescing wait included",
            ["track"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.shadow = Counter(
            "ocs_shadow_comparisons_total",
            "Orders scored by both tracks in shadow mode, by whether the risk bands agree",
            ["agree"],
            registry=registry,
        )


class CanaryBackend:
    """The Gateway's backend: routes each order to stable or canary and records both."""

    def __init__(
        self,
        stable: PredictionBackend,
        canary: PredictionBackend | None,
        settings: Settings,
        metrics: Metrics,
        replica: str = "",
    ):
        self.stable = stable
        self.canary = canary
        self.settings = settings
        self.metrics = CanaryMetrics(metrics)
        self.stats = CanaryStats(settings.canary_samples)
        self.replica = replica
        self.config = CanarySettings.from_user_config(None)
        self.versions: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.thresholds: dict[str, dict[str, float]] = {}  # each model's own risk bands
        self.canary_problem = "" if canary else "no canary Predictor is deployed"
        self._next_describe = 0.0
        self._stable_desc: dict[str, Any] | None = None
        self._background: set[asyncio.Task[None]] = set()

    def configure(self, config: CanarySettings) -> None:
        """Applied by the Gateway's ``reconfigure()``: takes effect on the next request."""
        self.config = config
        self.metrics.weight.set(config.effective_weight(self.canary_ready))
        log.info("canary settings now %s", config.model_dump())

    @property
    def canary_ready(self) -> bool:
        return self.canary is not None and "canary" in self.versions

    async def describe(self) -> dict[str, Any]:
        desc = await self.stable.describe()
        self.versions["stable"] = desc["version"]
        self.tags["stable"] = desc["tag"]
        self.thresholds["stable"] = self._bands(desc)
        self._stable_desc = desc
        await self._describe_canary(desc)
        return desc

    async def _describe_canary(self, stable: dict[str, Any]) -> None:
        """Learn the canary's version once; its features must be the stable model's."""
        if self.canary is None or self.canary_ready or time.monotonic() < self._next_describe:
            return
        try:
            # bounded: a canary that never comes up must not hold stable's readiness
            desc = await asyncio.wait_for(self.canary.describe(), DESCRIBE_TIMEOUT_S)
        except Exception as exc:
            self._next_describe = time.monotonic() + RETRY_DESCRIBE_S
            self.canary_problem = f"canary Predictor not ready: {type(exc).__name__}: {exc}"
            return
        ours, theirs = stable["spec"].get("features"), desc["spec"].get("features")
        if ours != theirs:
            self.canary_problem = (
                f"canary model {desc['tag']} has other features than stable {stable['tag']}: "
                "requests are validated against stable's spec, so the canary gets no traffic"
            )
            self._next_describe = float("inf")
            return
        self.versions["canary"] = desc["version"]
        self.tags["canary"] = desc["tag"]
        self.thresholds["canary"] = self._bands(desc)
        self.canary_problem = ""
        self.metrics.weight.set(self.config.effective_weight(True))

    def _bands(self, desc: dict[str, Any]) -> dict[str, float]:
        try:
            return self.settings.risk_thresholds(desc["risk_bands"])
        except (KeyError, ConfigError):  # PredictService reports a stable model's problem
            return dict(FALLBACK)

    async def predict(self, records: list[dict[str, Any]]) -> list[float]:
        return [s.probability for s in await self.predict_tracked(None, records)]

    async def explain(
        self, records: list[dict[str, Any]], k: int, steps: int
    ) -> list[list[dict[str, Any]]]:
        """Explanations come from the stable model."""
        return await self.stable.explain(records, k, steps)

    async def predict_tracked(
        self, order_ids: list[str] | None, records: list[dict[str, Any]]
    ) -> list[Scored]:
        ids = order_ids or [str(i) for i in range(len(records))]
        if self.canary is not None and not self.canary_ready and self._stable_desc:
            await self._describe_canary(self._stable_desc)
        weight = self.config.effective_weight(self.canary_ready) if order_ids else 0
        stable_idx, canary_idx = split(ids, weight)
        out: list[Scored | None] = [None] * len(records)
        calls = [self._answer("stable", stable_idx, ids, records, out)]
        if canary_idx:
            calls.append(self._answer("canary", canary_idx, ids, records, out))
        await asyncio.gather(*calls)
        if self.config.shadows(self.canary_ready) and order_ids:
            self._shadow(ids, records, [s.probability for s in out if s is not None])
        return [s for s in out if s is not None]

    async def _answer(
        self,
        track: Track,
        idx: list[int],
        ids: list[str],
        records: list[dict[str, Any]],
        out: list[Scored | None],
    ) -> None:
        if not idx:
            return
        chosen = [records[i] for i in idx]
        try:
            scores = await self._score(track, [ids[i] for i in idx], chosen)
        except Exception:
            if track == "stable":
                raise
            log.exception("canary scoring failed; stable answers these %d orders", len(idx))
            track = "stable"
            scores = await self._score(track, [ids[i] for i in idx], chosen)
        version = self.versions.get(track, "")
        for i, p in zip(idx, scores, strict=True):
            out[i] = Scored(p, track, version)

    async def _score(
        self, track: Track, ids: list[str], records: list[dict[str, Any]]
    ) -> list[float]:
        backend = self.stable if track == "stable" else self.canary
        assert backend is not None
        started = time.perf_counter()
        try:
            with logs.bound(order_ids=ids):  # travel with the records to the Predictor's log
                scores = await backend.predict(records)
        except Exception:
            self.stats.record_error(track, len(records))
            self.metrics.errors.labels(track).inc()
            raise
        elapsed = time.perf_counter() - started
        self.metrics.latency.labels(track).observe(elapsed)
        self.stats.record_call(track, ids, scores, elapsed)
        return scores

    def _shadow(self, ids: list[str], records: list[dict[str, Any]], stable: list[float]) -> None:
        task = asyncio.create_task(self._compare(ids, records, stable))
        self._background.add(task)  # keep a reference until done, or the task may vanish
        task.add_done_callback(self._background.discard)

    async def _compare(
        self, ids: list[str], records: list[dict[str, Any]], stable: list[float]
    ) -> None:
        try:
            canary = await self._score("canary", ids, records)
        except Exception:
            log.exception("shadow scoring on the canary failed")
            return
        # each score in its own model's bands: agreement is about the decision taken
        ours = [band(a, self.thresholds["stable"]) for a in stable]
        theirs = [band(b, self.thresholds["canary"]) for b in canary]
        agree = [a == b for a, b in zip(ours, theirs, strict=True)]
        self.stats.record_shadow(
            ours, theirs, sum(abs(a - b) for a, b in zip(stable, canary, strict=True))
        )
        self.metrics.shadow.labels("true").inc(sum(agree))
        self.metrics.shadow.labels("false").inc(len(agree) - sum(agree))

    def report(self) -> dict[str, Any]:
        """What ``GET /v1/canary`` answers: settings, versions and this replica's figures."""
        return {
            "replica": self.replica,
            "config": self.config.model_dump(),
            "effective_weight": self.config.effective_weight(self.canary_ready),
            "shadow_active": self.config.shadows(self.canary_ready),
            "versions": self.versions,
            "tags": self.tags,
            "canary_problem": self.canary_problem,
            **self.stats.snapshot(),
        }
