"""Train-and-register steps shared by `ocs train` and the demo model of `ocs serve`."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training import synth
from training.baselines import compare
from training.data import labels
from training.explain import explain, global_importance
from training.registry import REPORT_DIR, Registry
from training.report import REPORT_FILE, write_report
from training.spec import FeatureSpec, load_spec
from training.train import TrainParams, TrainResult, train

DEMO_ROWS = 20_000
IMPORTANCE_ROWS = 2000


@dataclass
class Run:
    tag: str
    result: TrainResult
    comparison: dict[str, dict[str, float]] | None = None
    report: Path | None = None


def metadata(result: TrainResult, source: str) -> dict[str, Any]:
    """What the registry keeps beside the weights (BentoML metadata: no None values)."""
    artifact = result.artifact
    protocol = {"protocol": artifact.spec.protocol} if artifact.spec.protocol else {}
    return {
        **protocol,
        "metrics": result.metrics,
        "spec": artifact.spec.to_dict(),
        "data_fingerprint": result.data_fingerprint,
        "data_source": source,
        "split": result.split_kind,
        "params": result.params.to_dict(),
        "calibration": {
            "method": artifact.calibrator.method,
            "temperature": artifact.calibrator.temperature,
        },
        "risk_bands": artifact.bands,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.seconds, 2),
    }


def register(
    result: TrainResult,
    registry: Registry,
    source: str,
    labels: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    attachments: Path | None = None,
) -> str:
    return registry.save(
        result.artifact, {**metadata(result, source), **(extra or {})}, labels, attachments
    )


def importance(result: TrainResult, seed: int) -> dict[str, float]:
    """Global importance: mean |contribution| over a sample of test orders."""
    assert result.parts is not None
    test = result.parts.test
    rows = np.random.default_rng(seed).permutation(len(test))[:IMPORTANCE_ROWS]
    encoded = result.artifact.preprocessor.transform(test.iloc[np.sort(rows)])
    return global_importance(explain(result.artifact, encoded))


def report(result: TrainResult, directory: Path, source: str, comparison: Any = None) -> Path:
    assert result.parts is not None
    artifact, test = result.artifact, result.parts.test
    table, scores = comparison or (None, {"torch_mlp": artifact.predict_frame(test)})
    spec = artifact.spec
    facts = {
        "spec": spec.name,
        "protocol": spec.protocol or "(none)",
        "data": source,
        "split": f"{result.split_kind}: {len(result.parts.train)} train, "
        f"{len(result.parts.valid)} validation, {len(test)} test rows",
        "calibration": f"{artifact.calibrator.method} (T={artifact.calibrator.temperature:.3f})",
        "risk bands": artifact.bands,
        "ensemble": result.params.ensemble,
        "best epoch": result.best_epoch,
        "trained": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    return write_report(
        directory,
        title=f"Training report: {spec.name}",
        facts=facts,
        metrics=result.metrics,
        y_test=labels(test, spec),
        scores=scores,
        network="torch_mlp",
        importance=importance(result, result.params.seed),
        comparison=table,
    )


def train_and_register(
    df: pd.DataFrame,
    spec: FeatureSpec,
    registry: Registry,
    source: str,
    params: TrainParams | None = None,
    progress: bool = True,
    labels: dict[str, str] | None = None,
    baselines: bool = False,
    report_dir: Path | None = None,
) -> Run:
    """Train; optionally fit the baselines and write the report; register it all together."""
    result = train(df, spec, params, progress=progress)
    assert result.parts is not None
    comparison = None
    if baselines:
        artifact = result.artifact
        comparison = compare(
            result.parts,
            artifact.preprocessor,
            artifact.predict_proba,
            result.seconds,
            result.params.seed,
        )
    meta: dict[str, Any] = {}
    if comparison is not None:
        meta["baselines"] = comparison[0]
    report_path = None
    with tempfile.TemporaryDirectory() as scratch:
        attachments = None
        if report_dir is not None:
            report_path = report(result, report_dir, source, comparison)
            attachments = Path(scratch) / REPORT_DIR
            attachments.mkdir()
            (attachments / REPORT_FILE).write_bytes(report_path.read_bytes())
            meta["report"] = f"{REPORT_DIR}/{REPORT_FILE}"
        tag = register(result, registry, source, labels, meta, attachments)
    return Run(tag, result, comparison[0] if comparison else None, report_path)


def ensure_demo_model(registry: Registry, progress: bool = True) -> str | None:
    """Train and register a model on synthetic orders when the registry is empty."""
    if registry.list():
        return None
    df = synth.generate(DEMO_ROWS, seed=0)
    run = train_and_register(
        df,
        load_spec("dealer_orders"),
        registry,
        source=f"synthetic:dealer_orders:rows={DEMO_ROWS}:seed=0",
        progress=progress,
        labels={"stage": "demo"},
    )
    return run.tag
