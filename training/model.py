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
