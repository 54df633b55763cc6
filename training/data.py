"""Reading order tables and turning them into labelled, time-ordered splits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from training.features import category_key
from training.spec import FeatureSpec


class DataError(ValueError):
    """Data that doesn't fit its spec; the message says which column and why."""


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise DataError(f"{path}: expected a .csv or .parquet file")


def labels(df: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """1.0 where the label column equals the spec's positive value, else 0.0."""
    column = spec.label.column
    if column not in df.columns:
        raise DataError(f"label column {column!r} is not in the data")
    values = df[column]
    if values.isna().any():
        raise DataError(f"label column {column!r} has {int(values.isna().sum())} missing values")
    positive = spec.label.positive
    hits = values.map(category_key) == category_key(positive)
    if not hits.any():
        seen = sorted(map(str, values.unique()[:10]))
        raise DataError(f"label {column!r}: positive value {positive!r} never occurs (seen {seen})")
    return hits.to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    kind: str  # "temporal" or "random"


def split(
    df: pd.DataFrame, spec: FeatureSpec, valid_fraction: float, test_fraction: float, seed: int
) -> Split:
    """Temporal split when the spec has a time column (test is the latest period), else random."""
    if not 0 < valid_fraction < 1 or not 0 < test_fraction < 1:
        raise DataError("valid and test fractions must be between 0 and 1")
    n = len(df)
    n_test, n_valid = round(n * test_fraction), round(n * valid_fraction)
    if n - n_test - n_valid < 10 or n_valid < 10 or n_test < 10:
        raise DataError(f"{n} rows are too few to split into train, validation and test")
    if spec.time_column:
        if spec.time_column not in df.columns:
            raise DataError(f"time column {spec.time_column!r} is not in the data")
        times = pd.to_datetime(df[spec.time_column], errors="coerce")
        if times.isna().any():
            raise DataError(f"time column {spec.time_column!r} has missing or unparsable values")
        order = np.lexsort((df[spec.id_column].astype(str).to_numpy(), times.to_numpy()))
        kind = "temporal"
    else:
        order = np.random.default_rng(seed).permutation(n)
        kind = "random"
    ordered = df.iloc[order].reset_index(drop=True)
    cut_valid, cut_test = n - n_test - n_valid, n - n_test
    return Split(ordered[:cut_valid], ordered[cut_valid:cut_test], ordered[cut_test:], kind)


def fingerprint(df: pd.DataFrame) -> str:
    """Content hash of a table, independent of where it was read from."""
    hashed = pd.util.hash_pandas_object(df, index=False).to_numpy()
    return f"{len(df)}x{df.shape[1]}:{int(hashed.sum() % (1 << 63)):016x}"
