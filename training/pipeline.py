"""Train-and-register steps shared by `ocs train` and the demo model of `ocs serve`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from training import synth
from training.registry import Registry
from training.spec import FeatureSpec, load_spec
from training.train import TrainParams, TrainResult, train

DEMO_ROWS = 20_000


def register(
    result: TrainResult, registry: Registry, source: str, labels: dict[str, str] | None = None
) -> str:
    metadata: dict[str, Any] = {
        "metrics": result.metrics,
        "spec": result.artifact.spec.to_dict(),
        "data_fingerprint": result.data_fingerprint,
        "data_source": source,
        "split": result.split_kind,
        "params": result.params.to_dict(),
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.seconds, 2),
    }
    return registry.save(result.artifact, metadata, labels)


def train_and_register(
    df: pd.DataFrame,
    spec: FeatureSpec,
    registry: Registry,
    source: str,
    params: TrainParams | None = None,
    progress: bool = True,
    labels: dict[str, str] | None = None,
) -> tuple[str, TrainResult]:
    result = train(df, spec, params, progress=progress)
    return register(result, registry, source, labels), result


def ensure_demo_model(registry: Registry, progress: bool = True) -> str | None:
    """Train and register a model on synthetic orders when the registry is empty."""
    if registry.list():
        return None
    df = synth.generate(DEMO_ROWS, seed=0)
    tag, _ = train_and_register(
        df,
        load_spec("dealer_orders"),
        registry,
        source=f"synthetic:dealer_orders:rows={DEMO_ROWS}:seed=0",
        progress=progress,
        labels={"stage": "demo"},
    )
    return tag
