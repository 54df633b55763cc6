"""Column-wise checks of a day's orders: every bad row is rejected with its reasons.

The same rules as the API's record checks (``training.validation``), vectorized: a million
rows must not cost a million Python loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training.spec import FeatureSpec, FeatureType

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class InputError(ValueError):
    """The file as a whole can't be scored (missing columns, unreadable); says what to fix."""


@dataclass(frozen=True)
class Checked:
    valid: pd.DataFrame  # cleaned: numbers as float64, booleans as bool or missing
    rejects: pd.DataFrame  # original columns plus ``row`` (1-based) and ``reasons``


def read_orders(path: str) -> pd.DataFrame:
    """A CSV or Parquet file of orders."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise InputError(f"{path}: no such file")
    if file.suffix == ".parquet":
        return pd.read_parquet(file)
    if file.suffix == ".csv":
        # ids stay strings ("007" is not 7); pandas infers the rest, the checks clean it up
        return pd.read_csv(file, dtype={"order_id": str, "dealer_id": str})
    raise InputError(f"{path}: expected a .csv or .parquet file")


def check(df: pd.DataFrame, spec: FeatureSpec, day_column: str | None) -> Checked:
    id_column = spec.id_column
    needed = [id_column, *spec.features]
    absent = [c for c in needed if c not in df.columns]
    if absent:
        raise InputError(
            f"input lacks columns {absent}: every order needs {id_column} and the features "
            f"of spec {spec.name} ({', '.join(spec.features)})"
        )
    df = df.reset_index(drop=True)
    reasons = pd.Series([""] * len(df), dtype=object)

    def flag(mask: np.ndarray | pd.Series, reason: str) -> None:
        m = np.asarray(mask, dtype=bool)
        if m.any():
            reasons[m] = reasons[m] + reason + "; "

    ids = df[id_column]
    flag(ids.isna() | (ids.astype(str).str.strip() == ""), f"{id_column}: missing")
    flag(ids.duplicated(keep="first") & ids.notna(), f"{id_column}: duplicate in this file")
    clean: dict[str, Any] = {id_column: ids.astype(str)}
    for name, feat in spec.features.items():
        column = df[name]
        missing = column.isna().to_numpy()
        if feat.missing_policy == "error":
            flag(missing, f"{name}: must not be null")
        if feat.type is FeatureType.numeric:
            values = pd.to_numeric(column, errors="coerce").astype("float64")
            flag(values.isna().to_numpy() & ~missing, f"{name}: not a number")
            flag(np.isinf(values.to_numpy()), f"{name}: not a finite number")
            clean[name] = values
        elif feat.type is FeatureType.boolean:
            clean[name], bad = _booleans(column, missing)
            flag(bad, f"{name}: not true or false")
        else:
            clean[name] = column
    if day_column and day_column in df.columns:
        dates = pd.to_datetime(df[day_column], errors="coerce")
        flag(dates.isna().to_numpy(), f"{day_column}: not a date")
        clean[day_column] = dates
    bad = (reasons != "").to_numpy()
    valid = df.copy(deep=False)  # contact and other columns travel along (emails need them)
    for name, values in clean.items():
        valid[name] = values
    if bad.any():
        valid = valid[~bad]
    rejects = df[bad].copy()
    rejects.insert(0, "row", np.flatnonzero(bad) + 1)
    rejects["reasons"] = reasons[bad].str.rstrip("; ").to_numpy()
    return Checked(valid.reset_index(drop=True), rejects.reset_index(drop=True))


def _booleans(column: pd.Series, missing: np.ndarray) -> tuple[Any, np.ndarray]:
    if pd.api.types.is_bool_dtype(column.dtype):
        return column, np.zeros(len(column), dtype=bool)
    text = column.astype(str).str.strip().str.lower()
    true, false = text.isin(_TRUE).to_numpy(), text.isin(_FALSE).to_numpy()
    out: Any = np.full(len(column), None, dtype=object)
    out[true] = True
    out[false] = False
    return out, ~(true | false | missing)
