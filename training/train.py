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

from training.artifact import ModelArtifact
from training.data import DataError, Split, fingerprint, labels, split
from training.features import Encoded, Preprocessor
from training.metrics import binary_metrics
from training.model import ModelConfig, TabularNet
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
    valid_fraction: float = 0.15
    test_fraction: float = 0.15

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def _tensors(enc: Encoded, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.from_numpy(enc.numeric),
        torch.from_numpy(enc.categorical),
        torch.from_numpy(y.astype(np.float32)),
    )


def _mean_loss(net: TabularNet, data: tuple[torch.Tensor, ...], loss_fn: nn.Module) -> float:
    net.eval()
    with torch.inference_mode():
        return float(loss_fn(net(data[0], data[1]), data[2]))


def train(
    df: pd.DataFrame, spec: FeatureSpec, params: TrainParams | None = None, progress: bool = True
) -> TrainResult:
    """Train on ``df`` described by ``spec``; metrics come from the validation and test splits."""
    params = params or TrainParams()
    started = time.perf_counter()
    if spec.id_column not in df.columns:
        raise DataError(f"id column {spec.id_column!r} is not in the data")
    labels(df, spec)  # fail early, before any fitting, on an unusable label column
    parts: Split = split(df, spec, params.valid_fraction, params.test_fraction, params.seed)
    torch.manual_seed(params.seed)
    generator = torch.Generator().manual_seed(params.seed)

    pre = Preprocessor.fit(parts.train, spec)
    train_data = _tensors(pre.transform(parts.train), labels(parts.train, spec))
    valid_data = _tensors(pre.transform(parts.valid), labels(parts.valid, spec))
    config = ModelConfig(
        n_numeric=len(pre.numeric_columns),
        cardinalities=pre.cardinalities,
        hidden=list(params.hidden),
        dropout=params.dropout,
    )
    net = TabularNet(config)
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )
    loss_fn = nn.BCEWithLogitsLoss()
    n = len(train_data[2])
    best_loss, best_state, best_epoch, stale = float("inf"), copy.deepcopy(net.state_dict()), 0, 0
    history: list[dict[str, float]] = []
    bar = tqdm(range(1, params.epochs + 1), desc="training", unit="epoch", disable=not progress)
    epoch = 0
    for epoch in bar:
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
    bar.close()
    net.load_state_dict(best_state)
    artifact = ModelArtifact(spec, pre, net)
    metrics = {"valid": evaluate(artifact, parts.valid), "test": evaluate(artifact, parts.test)}
    return TrainResult(
        artifact=artifact,
        metrics=metrics,
        split_kind=parts.kind,
        epochs_run=epoch,
        best_epoch=best_epoch,
        seconds=time.perf_counter() - started,
        data_fingerprint=fingerprint(df),
        params=params,
        history=history,
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
