"""The one feature path: fitted on training data, applied unchanged to batches and single orders.

The fitted state is plain JSON and travels inside the model artifact. ``transform`` (a DataFrame)
and ``transform_records`` (a list of dicts, as the API receives them) only differ in how they pick
columns out of their input; everything after that is the same code.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training.spec import FeatureSpec, FeatureType

MISSING_INDEX = 0  # categorical index for a missing value
UNKNOWN_INDEX = 1  # unseen or rare category
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
_CLIP = 8.0  # standardized values beyond +/- 8 sd carry no extra information, only risk


class FeatureError(ValueError):
    """A value the feature path can't encode; names the feature and the row."""


@dataclass(frozen=True)
class Encoded:
    numeric: np.ndarray  # float32 [rows, numeric columns]
    categorical: np.ndarray  # int64 [rows, categorical features]

    def __len__(self) -> int:
        return int(self.numeric.shape[0])


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def category_key(value: Any) -> str:
    """Canonical string of a category, identical for CSV, Parquet and JSON inputs."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _as_float(name: str, values: Any) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        out = np.empty(len(values))
        for i, v in enumerate(values):
            if is_missing(v):
                out[i] = np.nan
                continue
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                raise FeatureError(f"{name}: row {i}: {v!r} is not a number") from None
        return out


def _as_bool(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == np.bool_:
        return arr.astype(np.float64)
    out = np.empty(len(arr))
    for i, v in enumerate(values):
        if is_missing(v):
            out[i] = np.nan
        elif isinstance(v, bool | np.bool_ | int | np.integer) and v in (0, 1):
            out[i] = float(v)
        elif isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
            out[i] = 1.0 if v.strip().lower() in _TRUE else 0.0
        else:
            raise FeatureError(f"{name}: row {i}: {v!r} is not a boolean")
    return out


def _fail_on_missing(name: str, mask: np.ndarray) -> None:
    if mask.any():
        rows = np.flatnonzero(mask)[:5].tolist()
        raise FeatureError(f"{name}: missing values are not allowed (rows {rows})")


class Preprocessor:
    """Fitted encoding of one spec's features into a numeric matrix and category indices."""

    def __init__(self, spec: FeatureSpec, state: Mapping[str, Any]):
        self.spec = spec
        self.state = dict(state)
        self._vocab = {
            name: {key: i + 2 for i, key in enumerate(s["vocabulary"])}
            for name, s in self.state.items()
            if spec.features[name].type is FeatureType.categorical
        }
        self.categorical_features = spec.feature_names(FeatureType.categorical)
        self.dense_features = [n for n in spec.features if n not in self._vocab]

    @classmethod
    def fit(cls, df: pd.DataFrame, spec: FeatureSpec) -> Preprocessor:
        missing = [n for n in spec.features if n not in df.columns]
        if missing:
            raise FeatureError(f"training data lacks feature columns: {missing}")
        state: dict[str, Any] = {}
        for name, feat in spec.features.items():
            col = df[name].to_numpy()
            if feat.type is FeatureType.categorical:
                counts = Counter(category_key(v) for v in col if not is_missing(v))
                vocab = sorted(k for k, c in counts.items() if c >= feat.min_count)
                state[name] = {"vocabulary": vocab}
                continue
            raw = _as_float(name, col) if feat.type is FeatureType.numeric else _as_bool(name, col)
            observed = raw[~np.isnan(raw)]
            if observed.size == 0:
                raise FeatureError(f"{name}: every training value is missing")
            fill = _fill_value(feat.missing_policy, observed)
            values = _apply_transform(feat.transform, np.where(np.isnan(raw), fill, raw))
            std = float(values.std())
            state[name] = {"fill": fill, "mean": float(values.mean()), "std": std or 1.0}
        return cls(spec, state)

    @property
    def cardinalities(self) -> list[int]:
        return [len(self._vocab[n]) + 2 for n in self.categorical_features]

    @property
    def numeric_columns(self) -> list[str]:
        cols = []
        for name in self.dense_features:
            cols.append(name)
            if self.spec.features[name].indicator:
                cols.append(f"{name}__missing")
        return cols

    def transform(self, df: pd.DataFrame) -> Encoded:
        absent = [n for n in self.spec.features if n not in df.columns]
        if absent:
            raise FeatureError(f"data lacks feature columns: {absent}")
        # categorical columns stay Series: factorizing Arrow-backed strings needs no copy
        columns = {n: df[n] if n in self._vocab else df[n].to_numpy() for n in self.spec.features}
        return self._encode(columns, len(df))

    def transform_records(self, records: Sequence[Mapping[str, Any]]) -> Encoded:
        columns = {n: [r.get(n) for r in records] for n in self.spec.features}
        return self._encode(columns, len(records))

    def _encode(self, columns: Mapping[str, Any], rows: int) -> Encoded:
        numeric = np.empty((rows, len(self.numeric_columns)), dtype=np.float32)
        k = 0
        for name in self.dense_features:
            feat, st = self.spec.features[name], self.state[name]
            convert = _as_float if feat.type is FeatureType.numeric else _as_bool
            raw = convert(name, columns[name])
            mask = np.isnan(raw)
            if feat.missing_policy == "error":
                _fail_on_missing(name, mask)
            values = _apply_transform(feat.transform, np.where(mask, st["fill"], raw))
            numeric[:, k] = np.clip((values - st["mean"]) / st["std"], -_CLIP, _CLIP)
            k += 1
            if feat.indicator:
                numeric[:, k] = mask
                k += 1
        cats = np.empty((rows, len(self.categorical_features)), dtype=np.int64)
        for j, name in enumerate(self.categorical_features):
            cats[:, j] = self._categories(name, columns[name])
        return Encoded(numeric, cats)

    def _categories(self, name: str, values: Any) -> np.ndarray:
        """Vocabulary indices of one column; each distinct value is looked up once."""
        vocab = self._vocab[name]
        policy = self.spec.features[name].missing_policy
        arr = np.asarray(values, dtype=object) if isinstance(values, list) else values
        if _uniform(arr):
            codes, uniques = pd.factorize(arr, use_na_sentinel=True)
            codes = np.asarray(codes)
            lookup = np.array(
                [vocab.get(category_key(u), UNKNOWN_INDEX) for u in uniques] + [MISSING_INDEX],
                dtype=np.int64,
            )
            if policy == "error" and (codes < 0).any():
                i = int(np.flatnonzero(codes < 0)[0])
                raise FeatureError(f"{name}: row {i}: missing values are not allowed")
            out: np.ndarray = lookup[codes]  # code -1 (missing) takes the last entry
            return out
        out = np.empty(len(arr), dtype=np.int64)
        for i, v in enumerate(arr):
            if is_missing(v):
                if policy == "error":
                    raise FeatureError(f"{name}: row {i}: missing values are not allowed")
                out[i] = MISSING_INDEX
            else:
                out[i] = vocab.get(category_key(v), UNKNOWN_INDEX)
        return out


def _uniform(values: Any) -> bool:
    """True when factorizing can't merge values whose category keys differ.

    Hash-equal values such as ``True``, ``1`` and ``1.0`` would share a code; a column of one
    kind (all strings, or a numeric or boolean dtype) has no such pairs, except NaN and None,
    which both mean missing.
    """
    if isinstance(values, pd.Series):
        dtype = values.dtype
        if isinstance(dtype, pd.StringDtype) or pd.api.types.is_bool_dtype(dtype):
            return True
        if pd.api.types.is_numeric_dtype(dtype):
            return True
        if isinstance(dtype, pd.CategoricalDtype):
            return _uniform(dtype.categories)
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        return True
    if arr.dtype.kind in "OUT":
        kind = pd.api.types.infer_dtype(arr, skipna=True)
        return kind in ("string", "empty")
    return False


def _fill_value(policy: str, observed: np.ndarray) -> float:
    if policy in ("median", "error"):
        return float(np.median(observed))
    if policy == "mean":
        return float(observed.mean())
    if policy == "most_frequent":
        return float(observed.mean() >= 0.5)
    return {"zero": 0.0, "false": 0.0, "true": 1.0}[policy]


def _apply_transform(kind: str, values: np.ndarray) -> np.ndarray:
    if kind == "log1p":
        out: np.ndarray = np.sign(values) * np.log1p(np.abs(values))
        return out
    return values
