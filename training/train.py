"""Fit the cancellation model: split, fit features, train with early stopping, evaluate."""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from training.artifact import ModelArtifact, average_order
from training.bands import choose_bands
from training.calibration import Calibrator, Method
from training.data import DataError, Split, fingerprint, labels, split
from training.drift import reference_stats
from training.features import Encoded, Preprocessor
from training.metrics import binary_metrics
from training.model import Ensemble, ModelConfig, Net, TabularNet, build
from training.spec import FeatureSpec


@dataclass(frozen=True)
class TrainParams:
    seed: int = 0
    epochs: int = 60
    patience: int = 6
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    hidden: list[int] = field(default_factory=lambda: [128, 64])
    dropout: float = 0.1
    ensemble: int = 1
    calibration: Method = "temperature"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def for_spec(cls, spec: FeatureSpec, **overrides: Any) -> TrainParams:
        """Defaults, then the spec's ``training`` block, then the options that were given."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(**{**spec.training.overrides(), **given})


@dataclass
class TrainResult:
    artifact: ModelArtifact
    metrics: dict[str, dict[str, float]]
    split_kind: str
    epochs_run: int
    best_epoch: int
    seconds: float
    data_fingerprint: str
    params: TrainParams
    history: list[dict[str, float]] = field(default_factory=list)
    parts: Split | None = None  # the data of each part, for baselines and reports


def _tensors(enc: Encoded, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.from_numpy(enc.numeric),
        torch.from_numpy(enc.categorical),
        torch.from_numpy(y.astype(np.float32)),
    )


def _mean_loss(net: Net, data: tuple[torch.Tensor, ...], loss_fn: nn.Module) -> float:
    net.eval()
    with torch.inference_mode():
        return float(loss_fn(net(data[0], data[1]), data[2]))


Data = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _fit_member(
    config: ModelConfig,
    params: TrainParams,
    seed: int,
    train_data: Data,
    valid_data: Data,
    bar: tqdm[Any],
) -> tuple[TabularNet, int, list[dict[str, float]]]:
    """One network with early stopping on validation loss; returns its best epoch's weights."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = TabularNet(config)
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )
    loss_fn = nn.BCEWithLogitsLoss()
    n = len(train_data[2])
    best_loss, best_state, best_epoch, stale = float("inf"), copy.deepcopy(net.state_dict()), 0, 0
    history: list[dict[str, float]] = []
    for epoch in range(1, params.epochs + 1):
        net.train()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, params.batch_size):
            idx = order[start : start + params.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(net(train_data[0][idx], train_data[1][idx]), train_data[2][idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        valid_loss = _mean_loss(net, valid_data, loss_fn)
        history.append({"epoch": epoch, "train_loss": total / n, "valid_loss": valid_loss})
        bar.update()
        bar.set_postfix(train=f"{total / n:.4f}", valid=f"{valid_loss:.4f}")
        if valid_loss < best_loss - 1e-5:
            best_loss, best_state, best_epoch, stale = (
                valid_loss,
                copy.deepcopy(net.state_dict()),
                epoch,
                0,
            )
        else:
            stale += 1
            if stale >= params.patience:
                break
    bar.update(params.epochs - len(history))  # epochs skipped by early stopping
    net.load_state_dict(best_state)
    return net.eval(), best_epoch, history


def train(
    df: pd.DataFrame, spec: FeatureSpec, params: TrainParams | None = None, progress: bool = True
) -> TrainResult:
    """Train on ``df`` described by ``spec``; metrics come from the validation and test splits."""
    params = params or TrainParams.for_spec(spec)
    started = time.perf_counter()
    if spec.id_column not in df.columns:
        raise DataError(f"id column {spec.id_column!r} is not in the data")
    labels(df, spec)  # fail early, before any fitting, on an unusable label column
    parts: Split = split(df, spec, params.seed)

    pre = Preprocessor.fit(parts.train, spec)
    train_encoded = pre.transform(parts.train)
    train_data = _tensors(train_encoded, labels(parts.train, spec))
    valid_encoded = pre.transform(parts.valid)
    valid_y = labels(parts.valid, spec)
    valid_data = _tensors(valid_encoded, valid_y)
    config = ModelConfig(
        n_numeric=len(pre.numeric_columns),
        cardinalities=pre.cardinalities,
        hidden=list(params.hidden),
        dropout=params.dropout,
        members=params.ensemble,
    )
    members, best_epochs, history = [], [], []
    bar = tqdm(
        total=params.epochs * params.ensemble, desc="training", unit="epoch", disable=not progress
    )
    for m in range(params.ensemble):
        bar.set_description(
            f"training {m + 1}/{params.ensemble}" if params.ensemble > 1 else "training"
        )
        net, best, member_history = _fit_member(
            config, params, params.seed * 1000 + m, train_data, valid_data, bar
        )
        members.append(net)
        best_epochs.append(best)
        history += [{"member": m, **h} for h in member_history]
    bar.close()
    model = build(config)
    if isinstance(model, Ensemble):
        for target, member in zip(model.members, members, strict=True):
            target.load_state_dict(member.state_dict())
    else:
        model = members[0]
    artifact = ModelArtifact(
        spec, pre, model, baseline=average_order(train_encoded, pre.cardinalities)
    )
    artifact.calibrator = Calibrator.fit(
        artifact.logits(valid_encoded), valid_y, params.calibration
    )
    artifact.bands = choose_bands(valid_y, artifact.predict_proba(valid_encoded))
    # Drift reference: feature bins of the training rows, score bins of the unseen test rows.
    artifact.reference = reference_stats(parts.train, spec, artifact.predict_frame(parts.test))
    metrics = {"valid": evaluate(artifact, parts.valid), "test": evaluate(artifact, parts.test)}
    return TrainResult(
        artifact=artifact,
        metrics=metrics,
        split_kind=parts.kind,
        epochs_run=max(int(h["epoch"]) for h in history),
        best_epoch=max(best_epochs),
        seconds=time.perf_counter() - started,
        data_fingerprint=fingerprint(df),
        params=params,
        history=history,
        parts=parts,
    )


def evaluate(artifact: ModelArtifact, df: pd.DataFrame) -> dict[str, float]:
    spec = artifact.spec
    y = labels(df, spec)
    result = binary_metrics(y, artifact.predict_frame(df))
    oracle = spec.oracle_probability_column
    if oracle and oracle in df.columns:
        truth = df[oracle].to_numpy(dtype=np.float64)
        result["bayes_accuracy"] = float(np.mean((truth >= 0.5) == (y >= 0.5)))
        result["accuracy_vs_bayes"] = result["accuracy"] / result["bayes_accuracy"]
    return result
