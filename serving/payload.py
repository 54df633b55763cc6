"""Order tables to the JSON the API takes: ``{"order_id", "dealer_id", "features"}`` each."""

from __future__ import annotations

from typing import Any

import pandas as pd

from training.features import is_missing
from training.spec import FeatureSpec


def _plain(value: Any) -> Any:
    if is_missing(value):
        return None
    return value.item() if hasattr(value, "item") else value


def orders_from_frame(df: pd.DataFrame, spec: FeatureSpec) -> list[dict[str, Any]]:
    """One API order per row; the dealer column moves to ``dealer_id``."""
    dealer = spec.dealer_column
    names = [n for n in spec.features if n != dealer]
    orders = []
    for row in df.to_dict("records"):
        order: dict[str, Any] = {
            "order_id": str(row[spec.id_column]),
            "features": {n: _plain(row[n]) for n in names},
        }
        if dealer:
            order["dealer_id"] = None if is_missing(row[dealer]) else str(row[dealer])
        orders.append(order)
    return orders
