"""Realized accuracy: outcomes joined to the predictions that were served, per version and week.

The input is the store's ``prediction_outcomes(since)`` frame (one row per order: its latest
prediction and its outcome; columns ``order_id, model_version, track, probability, risk,
predicted_at, outcome, occurred_at``). Weeks are those of the prediction (ISO weeks, Monday
start, UTC): a cohort of orders scored together, filled in as their outcomes arrive, so the
latest weeks are incomplete and their counts say so.

The Gateway exports ``ocs_realized_accuracy{model_version, track}`` over the window
``Settings.realized_accuracy_window_days`` and ``ocs_model_validation_accuracy{model_version}``
of the served model, and ``GET /v1/models`` lists the weekly rows. The store arrives through
one hook, ``create_app(..., outcomes=store.prediction_outcomes)``, read at most once per
``Settings.realized_accuracy_ttl_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, Gauge

OutcomesProvider = Callable[[datetime | None], pd.DataFrame]
COLUMNS = ("order_id", "model_version", "track", "probability", "predicted_at", "outcome")
log = logging.getLogger(__name__)
THRESHOLD = 0.5  # the decision threshold of `accuracy` everywhere (training metrics too)


def _prepared(df: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"prediction_outcomes frame lacks columns {missing}")
    unknown = sorted(set(df["outcome"].astype(str)) - {"cancelled", "fulfilled"})
    if unknown:
        raise ValueError(f"outcome must be cancelled or fulfilled, got {unknown[:5]}")
    out = df.copy()
    out["cancelled"] = (out["outcome"] == "cancelled").astype(float)
    p = out["probability"].astype(float)
    out["correct"] = ((p >= THRESHOLD) == (out["cancelled"] == 1)).astype(float)
    out["squared_error"] = (p - out["cancelled"]) ** 2
    at = pd.to_datetime(out["predicted_at"], utc=True)
    out["week"] = (at.dt.normalize() - pd.to_timedelta(at.dt.weekday, unit="D")).dt.strftime(
        "%Y-%m-%d"
    )
    return out


def _aggregate(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = df.groupby(keys, sort=True)
    table = grouped.agg(
        orders=("order_id", "size"),
        accuracy=("correct", "mean"),
        brier=("squared_error", "mean"),
        cancel_rate=("cancelled", "mean"),
        mean_probability=("probability", "mean"),
    )
    return table.reset_index()


def weekly_accuracy(df: pd.DataFrame) -> pd.DataFrame:
    """One row per model version, track and prediction week, oldest week first."""
    if df.empty:
        cols = ["model_version", "track", "week", "orders", "accuracy", "brier"]
        return pd.DataFrame(columns=[*cols, "cancel_rate", "mean_probability"])
    return _aggregate(_prepared(df), ["model_version", "track", "week"])


def overall_accuracy(df: pd.DataFrame) -> pd.DataFrame:
    """One row per model version and track over the whole frame."""
    if df.empty:
        return pd.DataFrame(columns=["model_version", "track", "orders", "accuracy", "brier"])
    return _aggregate(_prepared(df), ["model_version", "track"])


class AccuracyGauges:
    """The two accuracy gauges on a Gateway's registry."""

    def __init__(self, registry: CollectorRegistry):
        self.realized = Gauge(
            "ocs_realized_accuracy",
            "Accuracy of served predictions whose outcome is known (window: "
            "OCS_REALIZED_ACCURACY_WINDOW_DAYS), by model version and track",
            ["model_version", "track"],
            registry=registry,
        )
        self.validation = Gauge(
            "ocs_model_validation_accuracy",
            "Accuracy of the served model on its held-out test split, from training",
            ["model_version"],
            registry=registry,
        )

    def set_validation(self, version: str, metrics: dict[str, Any]) -> None:
        accuracy = metrics.get("test", {}).get("accuracy")
        if accuracy is not None and np.isfinite(accuracy):
            self.validation.clear()  # one served model per Gateway
            self.validation.labels(version).set(float(accuracy))

    def set_realized(self, overall: pd.DataFrame) -> None:
        self.realized.clear()  # versions no longer in the window disappear
        for row in overall.to_dict("records"):
            self.realized.labels(str(row["model_version"]), str(row["track"])).set(
                float(row["accuracy"])
            )


class RealizedAccuracy:
    """The store's outcomes, read at most once per ``ttl_s``, as weekly rows and gauges."""

    def __init__(
        self,
        provider: OutcomesProvider,
        gauges: AccuracyGauges,
        window_days: int = 28,
        ttl_s: float = 300.0,
    ):
        self.provider = provider
        self.gauges = gauges
        self.window = timedelta(days=window_days)
        self.ttl_s = ttl_s
        self._weekly: pd.DataFrame | None = None
        self._read_at = -float("inf")
        self._lock = asyncio.Lock()

    async def weekly(self) -> pd.DataFrame | None:
        """The weekly rows; None while the store can't be read (logged; metrics still answer)."""
        async with self._lock:
            if time.monotonic() - self._read_at > self.ttl_s:
                self._read_at = time.monotonic()  # a failing store is retried after ttl_s too
                since = datetime.now(UTC) - self.window
                try:
                    frame = await asyncio.to_thread(self.provider, since)
                    weekly, overall = weekly_accuracy(frame), overall_accuracy(frame)
                except Exception as exc:  # the store is down or returned a bad frame
                    log.warning("realized accuracy not updated: %s: %s", type(exc).__name__, exc)
                else:
                    self._weekly = weekly
                    self.gauges.set_realized(overall)
            return self._weekly
