"""Weekly retraining: train a candidate, judge it against the production model, register it.

Both models are scored on the same holdout, the latest slice of the data by time, which the
candidate never trains on. The gate passes when the candidate's ROC AUC is at most
``max_auc_drop`` below the current model's and its calibration error (ECE) at most
``max_ece_increase`` above it. The current model may have trained on older parts of that slice,
which favours it: the gate errs on the side of keeping what is served.

A refused candidate is *not* registered: a new version would become ``cancel-predictor:latest``,
which a pod restart could serve. Its metrics and the reason stay in the run's record.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training.artifact import ModelArtifact
from training.data import DataError, order_times
from training.features import FeatureError
from training.pipeline import register
from training.registry import Registry, RegistryError
from training.spec import FeatureSpec
from training.train import TrainParams, TrainResult, evaluate, train

GATE_METRICS = ("roc_auc", "ece", "accuracy", "log_loss", "brier", "rows")
MIN_HOLDOUT_ROWS = 200


@dataclass(frozen=True)
class GateRule:
    max_auc_drop: float = 0.01
    max_ece_increase: float = 0.02


@dataclass
class Gate:
    passed: bool
    reasons: list[str]
    candidate: dict[str, float]
    current: dict[str, float] | None
    rule: GateRule

    def to_dict(self) -> dict[str, Any]:
        """Plain values; no None (BentoML metadata refuses it): a first model has no current."""
        out = {**asdict(self), "rule": asdict(self.rule)}
        if out["current"] is None:
            del out["current"]
        return out


@dataclass
class RetrainRun:
    gate: Gate
    result: TrainResult
    current_tag: str | None
    holdout_rows: int
    holdout_from: str
    tag: str | None = None  # set when registered
    started: float = field(default_factory=time.time)

    @property
    def verdict(self) -> str:
        return "promoted" if self.gate.passed else "refused"


def holdout_split(
    df: pd.DataFrame, spec: FeatureSpec, fraction: float, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, holdout rows): the holdout is the latest ``fraction`` by time."""
    n_holdout = round(len(df) * fraction)
    if n_holdout < MIN_HOLDOUT_ROWS:
        raise DataError(
            f"{len(df)} rows give a holdout of {n_holdout} rows ({fraction:.0%}); the gate needs "
            f"at least {MIN_HOLDOUT_ROWS}: more data or a larger holdout fraction"
        )
    if spec.time_column:
        order = np.argsort(order_times(df, spec).to_numpy(), kind="stable")
    else:  # no time: a seeded random slice, the same one for both models
        order = np.random.default_rng(seed).permutation(len(df))
    ordered = df.iloc[order].reset_index(drop=True)
    return ordered.iloc[:-n_holdout], ordered.iloc[-n_holdout:]


def _brief(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(metrics[k]) for k in GATE_METRICS if k in metrics}


def judge(candidate: dict[str, float], current: dict[str, float] | None, rule: GateRule) -> Gate:
    """Pass or refuse, with one reason per rule (met or broken) so the record explains itself."""
    if current is None:
        return Gate(True, ["no current model to compare with: first model"], candidate, None, rule)
    reasons, passed = [], True
    auc_floor = current["roc_auc"] - rule.max_auc_drop
    auc_ok = bool(candidate["roc_auc"] >= auc_floor)  # NaN compares false: refused
    passed &= auc_ok
    reasons.append(
        f"AUC {candidate['roc_auc']:.4f} {'>=' if auc_ok else '<'} {auc_floor:.4f} "
        f"(current {current['roc_auc']:.4f} - tolerance {rule.max_auc_drop})"
    )
    ece_ceiling = current["ece"] + rule.max_ece_increase
    ece_ok = bool(candidate["ece"] <= ece_ceiling)
    passed &= ece_ok
    reasons.append(
        f"ECE {candidate['ece']:.4f} {'<=' if ece_ok else '>'} {ece_ceiling:.4f} "
        f"(current {current['ece']:.4f} + tolerance {rule.max_ece_increase})"
    )
    return Gate(passed, reasons, candidate, current, rule)


def _current(registry: Registry, tag: str) -> ModelArtifact | None:
    try:
        return registry.load(tag)
    except RegistryError:
        return None


def retrain(
    df: pd.DataFrame,
    spec: FeatureSpec,
    registry: Registry,
    current_tag: str,
    source: str,
    params: TrainParams | None = None,
    rule: GateRule | None = None,
    holdout_fraction: float = 0.2,
    shuffle_labels: bool = False,
    progress: bool = True,
) -> RetrainRun:
    """Train on all but the latest slice, judge both models on it, register a candidate that passes.

    ``shuffle_labels`` is a drill: the candidate learns from permuted labels (the holdout keeps
    the true ones), so the gate must refuse it.
    """
    rule = rule or GateRule()
    params = params or TrainParams.for_spec(spec)
    train_df, holdout = holdout_split(df, spec, holdout_fraction, params.seed)
    if shuffle_labels:
        train_df = train_df.copy()
        rng = np.random.default_rng(params.seed + 1)
        train_df[spec.label.column] = rng.permutation(train_df[spec.label.column].to_numpy())
    result = train(train_df, spec, params, progress=progress)
    candidate = _brief(evaluate(result.artifact, holdout))
    current_artifact = _current(registry, current_tag)
    current = None
    if current_artifact is not None:
        try:
            current = _brief(evaluate(current_artifact, holdout))
        except FeatureError as exc:
            raise DataError(
                f"the current model {current_artifact.tag} can't score this data ({exc}); "
                "pass --current with a compatible model"
            ) from None
    gate = judge(candidate, current, rule)
    times = holdout[spec.time_column] if spec.time_column else None
    run = RetrainRun(
        gate=gate,
        result=result,
        current_tag=current_artifact.tag if current_artifact is not None else None,
        holdout_rows=len(holdout),
        holdout_from=str(pd.to_datetime(times).min().date()) if times is not None else "random",
    )
    if gate.passed:
        run.tag = register(
            result,
            registry,
            source,
            labels={"stage": "canary-proposed"},
            extra={
                "gate": gate.to_dict(),
                "compared_with": run.current_tag or "",
                "holdout": {"rows": len(holdout), "from": run.holdout_from},
            },
        )
    return run
