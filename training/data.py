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


def order_times(df: pd.DataFrame, spec: FeatureSpec) -> pd.Series:
    """The spec's time column parsed as datetimes; a missing column or value is a DataError."""
    assert spec.time_column
    if spec.time_column not in df.columns:
        raise DataError(f"time column {spec.time_column!r} is not in the data")
    times = pd.to_datetime(df[spec.time_column], errors="coerce")
    if times.isna().any():
        raise DataError(f"time column {spec.time_column!r} has missing or unparsable values")
    return times


def split(df: pd.DataFrame, spec: FeatureSpec, seed: int) -> Split:
    """Cut by the spec's ``split``: temporal when there is a time column, else random.

    Temporal: test is the rows from ``split.test_from`` on (or the latest ``test_fraction``);
    validation is the latest ``valid_fraction`` of what comes before, so early stopping and
    calibration see the period closest to the test.
    """
    rule = spec.split
    n = len(df)
    if spec.time_column:
        times = order_times(df, spec)
        order = np.lexsort((df[spec.id_column].astype(str).to_numpy(), times.to_numpy()))
        kind = "temporal"
    else:
        order = np.random.default_rng(seed).permutation(n)
        kind = "random"
    ordered = df.iloc[order].reset_index(drop=True)
    if rule.test_from is not None:
        sorted_times = pd.to_datetime(ordered[spec.time_column])
        n_test = int((sorted_times >= pd.Timestamp(rule.test_from)).sum())
        n_valid = round((n - n_test) * rule.valid_fraction)
    else:
        n_test, n_valid = round(n * rule.test_fraction), round(n * rule.valid_fraction)
    if n - n_test - n_valid < 10 or n_valid < 10 or n_test < 10:
        raise DataError(
            f"{n} rows split into {n - n_test - n_valid} train, {n_valid} validation and "
            f"{n_test} test rows: each part needs at least 10"
        )
    cut_valid, cut_test = n - n_test - n_valid, n - n_test
    return Split(ordered[:cut_valid], ordered[cut_valid:cut_test], ordered[cut_test:], kind)


def fingerprint(df: pd.DataFrame) -> str:
    """Content hash of a table, independent of where it was read from."""
    hashed = pd.util.hash_pandas_object(df, index=False).to_numpy()
    return f"{len(df)}x{df.shape[1]}:{int(hashed.sum() % (1 << 63)):016x}"
