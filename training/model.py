"""Torch model for tabular orders: an embedding per categorical feature, then an MLP."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn


def embedding_dim(cardinality: int) -> int:
    """Rule of thumb (fast.ai): grows sub-linearly with the vocabulary, capped at 16."""
    size: int = round(1.6 * cardinality**0.56)
    return max(2, min(16, size))


@dataclass(frozen=True)
class ModelConfig:
    n_numeric: int
    cardinalities: list[int]
    hidden: list[int] = field(default_factory=lambda: [128, 64])
    dropout: float = 0.1
    members: int = 1  # > 1: an ensemble averaging its members' logits

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TabularNet(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embeddings = nn.ModuleList(
            nn.Embedding(card, embedding_dim(card)) for card in config.cardinalities
        )
        width = config.n_numeric + sum(embedding_dim(c) for c in config.cardinalities)
        layers: list[nn.Module] = []
        for size in config.hidden:
            layers += [nn.Linear(width, size), nn.SiLU(), nn.Dropout(config.dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        """Cancellation log-odds, one per row."""
        parts = [numeric] + [emb(categorical[:, i]) for i, emb in enumerate(self.embeddings)]
        out: torch.Tensor = self.mlp(torch.cat(parts, dim=1)).squeeze(1)
        return out

    def forward_soft(self, numeric: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        """Log-odds with each category given as weights over its vocabulary (one-hot = forward).

        Embedding a weighted vocabulary is linear in the weights, so the path from an average
        order to a real one is a straight line that every ensemble member shares.
        """
        tables: list[nn.Embedding] = list(self.embeddings)  # type: ignore[arg-type]
        parts = [numeric] + [w @ emb.weight for w, emb in zip(weights, tables, strict=True)]
        out: torch.Tensor = self.mlp(torch.cat(parts, dim=1)).squeeze(1)
        return out


class Ensemble(nn.Module):
    """Members trained from different seeds; the log-odds are their mean."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(TabularNet(config) for _ in range(config.members))

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(numeric, categorical) for m in self.members]).mean(0)

    def forward_soft(self, numeric: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        members: list[TabularNet] = list(self.members)  # type: ignore[arg-type]
        return torch.stack([m.forward_soft(numeric, weights) for m in members]).mean(0)


Net = TabularNet | Ensemble


def build(config: ModelConfig) -> Net:
    return Ensemble(config) if config.members > 1 else TabularNet(config)
