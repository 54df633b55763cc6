"""Per-order explanations by integrated gradients from the average training order.

Each categorical feature enters as weights over its vocabulary (one-hot for a real order, the
training frequencies for the baseline), so the straight path between the two stays inside what
the embeddings can express and every ensemble member shares it. The integral is taken with
Gauss-Legendre nodes; contributions are in log-odds of the network (before calibration) and sum
to the order's log-odds minus the baseline's (completeness), which ``Explanation.gap`` reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from training.artifact import ModelArtifact
from training.features import Encoded

DEFAULT_STEPS = 16
_MAX_ROWS_PER_PASS = 16_384  # interpolated rows per forward/backward pass


@dataclass(frozen=True)
class Explanation:
    features: list[str]
    contributions: np.ndarray  # [orders, features], log-odds
    logits: np.ndarray  # [orders]
    baseline_logit: float

    @property
    def gap(self) -> np.ndarray:
        """Completeness error per order: |sum of contributions - (logit - baseline logit)|."""
        delta = self.logits - self.baseline_logit
        gap: np.ndarray = np.abs(self.contributions.sum(1) - delta)
        return gap


class ExplainError(ValueError):
    """A model saved without the baseline that explanations start from."""


def _feature_columns(artifact: ModelArtifact) -> tuple[list[str], np.ndarray]:
    """Feature names in spec order and, per numeric column, the index of its feature."""
    pre = artifact.preprocessor
    names = list(pre.dense_features) + list(pre.categorical_features)
    position = {n: i for i, n in enumerate(names)}
    owner = [position[c.removesuffix("__missing")] for c in pre.numeric_columns]
    return names, np.asarray(owner, dtype=np.int64)


def explain(artifact: ModelArtifact, encoded: Encoded, steps: int = DEFAULT_STEPS) -> Explanation:
    if artifact.baseline is None:
        raise ExplainError(f"model {artifact.tag or '(unsaved)'} has no explanation baseline")
    names, owner = _feature_columns(artifact)
    n_dense = len(artifact.preprocessor.dense_features)
    cards = artifact.preprocessor.cardinalities
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas = torch.tensor((nodes + 1) / 2, dtype=torch.float32)
    quad = torch.tensor(weights / 2, dtype=torch.float32)

    x_num = torch.from_numpy(encoded.numeric)
    b_num = torch.tensor(artifact.baseline["numeric"], dtype=torch.float32)
    x_cat = [
        torch.nn.functional.one_hot(torch.from_numpy(encoded.categorical[:, j]), card).float()
        for j, card in enumerate(cards)
    ]
    b_cat = [torch.tensor(f, dtype=torch.float32) for f in artifact.baseline["categorical"]]
    net = artifact.net
    rows = len(encoded)
    contributions = np.zeros((rows, len(names)))
    chunk = max(1, _MAX_ROWS_PER_PASS // steps)
    for start in range(0, rows, chunk):
        sl = slice(start, start + chunk)
        k = x_num[sl].shape[0]
        a = alphas.repeat(k)[:, None]  # row-major: each order's steps together
        num = (b_num + a * (x_num[sl].repeat_interleave(steps, 0) - b_num)).requires_grad_()
        cats = [
            (b + a * (x[sl].repeat_interleave(steps, 0) - b)).requires_grad_()
            for x, b in zip(x_cat, b_cat, strict=True)
        ]
        out = net.forward_soft(num, cats)
        grads = torch.autograd.grad(out.sum(), [num, *cats])
        w = quad.repeat(k)[:, None]
        avg_num = (grads[0] * w).reshape(k, steps, -1).sum(1)
        contrib_num = ((x_num[sl] - b_num) * avg_num).numpy()
        block = contributions[sl]
        np.add.at(block.T, owner, contrib_num.T)
        for j, (g, x, b) in enumerate(zip(grads[1:], x_cat, b_cat, strict=True)):
            avg = (g * w).reshape(k, steps, -1).sum(1)
            block[:, n_dense + j] = ((x[sl] - b) * avg).sum(1).numpy()
    with torch.inference_mode():
        logits = net(x_num, torch.from_numpy(encoded.categorical)).numpy().astype(np.float64)
        base = float(net.forward_soft(b_num[None], [b[None] for b in b_cat])[0])
    return Explanation(names, contributions, logits, base)


def top_factors(
    explanation: Explanation, records: Sequence[Mapping[str, Any]], k: int
) -> list[list[dict[str, Any]]]:
    """The k features with the largest |contribution| per order, with the order's own value."""
    out = []
    for i, record in enumerate(records):
        row = explanation.contributions[i]
        best = np.argsort(-np.abs(row), kind="stable")[:k]
        out.append(
            [
                {
                    "feature": explanation.features[j],
                    "value": record.get(explanation.features[j]),
                    "contribution": round(float(row[j]), 6),
                }
                for j in best
            ]
        )
    return out


def global_importance(explanation: Explanation) -> dict[str, float]:
    """Mean |contribution| per feature, largest first."""
    means = np.abs(explanation.contributions).mean(0)
    order = np.argsort(-means, kind="stable")
    return {explanation.features[j]: float(means[j]) for j in order}
