"""From a raw table to the columns a spec names: named loaders, dropped columns, default paths.

A loader adapts one published data set (adds an id or a date it lacks); every spec then goes
through the same dropping of leaks and post-outcome columns before anything reads the data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from training.data import DataError, read_table
from training.spec import FeatureSpec

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def hotel_bookings(df: pd.DataFrame) -> pd.DataFrame:
    """Hotel Booking Demand: a string id per booking (its row) and the arrival date."""
    needed = {"arrival_date_year", "arrival_date_month", "arrival_date_day_of_month"}
    absent = sorted(needed - set(df.columns))
    if absent:
        raise DataError(f"hotel_bookings loader: columns {absent} are not in the data")
    months = df["arrival_date_month"].map({m: i for i, m in enumerate(_MONTHS, 1)})
    if months.isna().any():
        bad = sorted(set(df.loc[months.isna(), "arrival_date_month"].astype(str)))[:5]
        raise DataError(f"hotel_bookings loader: unknown arrival_date_month values {bad}")
    out = df.copy()
    out["arrival_date"] = pd.to_datetime(
        pd.DataFrame(
            {
                "year": df["arrival_date_year"],
                "month": months,
                "day": df["arrival_date_day_of_month"],
            }
        )
    )
    out["booking_id"] = [f"HB{i:06d}" for i in range(len(df))]
    return out


LOADERS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {"hotel_bookings": hotel_bookings}


def prepare(df: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Apply the spec's loader, then drop its ``drop_columns`` (they must exist: a typo is loud)."""
    if spec.loader is not None:
        if spec.loader not in LOADERS:
            raise DataError(f"unknown loader {spec.loader!r}; known: {sorted(LOADERS)}")
        df = LOADERS[spec.loader](df)
    absent = [c for c in spec.drop_columns if c not in df.columns]
    if absent:
        raise DataError(f"drop_columns {absent} are not in the data")
    return df.drop(columns=spec.drop_columns)


def data_path(spec: FeatureSpec, path: Path | None, data_dir: Path) -> Path:
    """The file to train on: the one given, else the spec's ``data_file`` under ``data_dir``."""
    if path is not None:
        return path
    if spec.data_file is None:
        raise DataError(f"spec {spec.name!r} names no data_file: pass the data path")
    found = data_dir / spec.data_file
    if not found.is_file():
        raise DataError(
            f"{found}: no such file; pass the data path or set OCS_DATA_DIR to its folder"
        )
    return found


def load_dataset(spec: FeatureSpec, path: Path | None, data_dir: Path) -> tuple[Path, pd.DataFrame]:
    source = data_path(spec, path, data_dir)
    return source, prepare(read_table(source), spec)
