"""Drift between a model's reference data and a new sample, without labels.

Reference statistics are computed once at training time and saved in the model artifact
(``drift_reference.json``): for each numeric feature the training split's quantile bin edges and
bin shares, for each categorical or boolean feature its category shares, and for the calibrated
scores the test split's quantile bins. A check then needs only the new sample:

- numeric features: population stability index (PSI) over the reference's quantile bins, plus
  one bin for missing values;
- categorical and boolean features: Jensen-Shannon distance (base 2, in [0, 1]) between the
  category shares, with an ``unseen`` bucket for categories the reference never had;
- score drift: PSI of the calibrated probabilities over the reference's score quantiles;
- estimated accuracy (confidence-based performance estimation, CBPE): with calibrated
  probabilities, an order scored p is right with probability max(p, 1 - p) at the 0.5 threshold,
  so the mean of that is the expected accuracy without any label.

Both divergences are biased upward on finite samples: under no drift, PSI is about
(k - 1) (1/n + 1/m) for k bins, n new and m reference rows (the chi-square approximation), and
the JS divergence about (k - 1) (1/n + 1/m) / (8 ln 2) bits. Each result carries that noise
floor, and a check refuses to judge samples smaller than ``min_rows``.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training.features import _as_bool, _as_float, category_key, is_missing
from training.spec import FeatureSpec, FeatureType

REFERENCE_VERSION = 1
BINS = 10
MAX_CATEGORIES = 500  # beyond this, the rarest reference categories share one "other" bucket
UNSEEN = "__unseen__"
OTHER = "__other__"
MISSING = "__missing__"
_FLOOR = 1e-4  # share given to an empty bin so PSI stays finite


class DriftError(ValueError):
    """Reference statistics missing or not matching the data; the message says what to do."""


def cbpe_accuracy(p: np.ndarray, threshold: float = 0.5) -> float:
    """Expected accuracy of calibrated probabilities ``p`` when orders >= threshold are 'yes'."""
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return float("nan")
    return float(np.mean(np.where(p >= threshold, p, 1.0 - p)))


# --- reference ---------------------------------------------------------------------------------


def _numeric_reference(values: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    observed = values[~np.isnan(values)]
    if observed.size == 0:
        raise DriftError("every reference value is missing")
    qs = np.quantile(observed, np.linspace(0, 1, bins + 1)[1:-1])
    edges = np.unique(qs)
    counts = _numeric_counts(values, edges)
    return {"kind": "numeric", "edges": edges.tolist(), "counts": counts.tolist()}


def _numeric_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin: len(edges) + 1 value bins [lo, hi), then one for missing values."""
    missing = np.isnan(values)
    idx = np.searchsorted(edges, values[~missing], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(np.int64)
    return np.append(counts, int(missing.sum()))


def _category_keys(values: Sequence[Any]) -> list[str]:
    return [MISSING if is_missing(v) else category_key(v) for v in values]


def _categorical_reference(keys: list[str]) -> dict[str, Any]:
    counts = Counter(keys)
    kept = dict(counts.most_common(MAX_CATEGORIES))
    other = sum(counts.values()) - sum(kept.values())
    if other:
        kept[OTHER] = other
    return {"kind": "categorical", "counts": kept}


def _raw(spec: FeatureSpec, name: str, column: Any) -> np.ndarray | list[str]:
    kind = spec.features[name].type
    if kind is FeatureType.numeric:
        return _as_float(name, column)
    if kind is FeatureType.boolean:
        flags = _as_bool(name, column)
        return [MISSING if math.isnan(v) else ("true" if v else "false") for v in flags]
    return _category_keys(list(column))


def reference_stats(df: pd.DataFrame, spec: FeatureSpec, scores: np.ndarray) -> dict[str, Any]:
    """What a drift check compares against: feature bins of ``df``, score bins of ``scores``."""
    absent = [n for n in spec.features if n not in df.columns]
    if absent:
        raise DriftError(f"reference data lacks feature columns: {absent}")
    features: dict[str, Any] = {}
    for name in spec.features:
        raw = _raw(spec, name, df[name].to_numpy())
        if isinstance(raw, np.ndarray):
            try:
                features[name] = _numeric_reference(raw)
            except DriftError as exc:
                raise DriftError(f"{name}: {exc}") from None
        else:
            features[name] = _categorical_reference(raw)
    score = _numeric_reference(np.asarray(scores, dtype=np.float64))
    return {
        "version": REFERENCE_VERSION,
        "rows": len(df),
        "features": features,
        "score": {**score, "rows": len(scores), "estimated_accuracy": cbpe_accuracy(scores)},
    }


# --- divergences -------------------------------------------------------------------------------


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    e = np.maximum(expected / max(expected.sum(), 1), _FLOOR)
    a = np.maximum(actual / max(actual.sum(), 1), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def js_distance(expected: np.ndarray, actual: np.ndarray) -> float:
    """Jensen-Shannon distance (square root of the divergence in bits) of two count vectors."""
    p = expected / max(expected.sum(), 1)
    q = actual / max(actual.sum(), 1)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        used = x > 0
        return float(np.sum(x[used] * np.log2(x[used] / m[used])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def noise_floor(method: str, buckets: int, n: int, m: int) -> float:
    """Expected value of the divergence between two samples of one distribution."""
    if n == 0 or m == 0:
        return float("inf")
    spread = max(buckets - 1, 0) * (1 / n + 1 / m)
    return spread if method == "psi" else math.sqrt(spread / (8 * math.log(2)))


# --- the check ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2  # numeric features
    js: float = 0.1  # categorical features (JS distance)
    score_psi: float = 0.2
    max_accuracy_drop: float = 0.1  # relative to the reference's expected accuracy
    min_rows: int = 2000


@dataclass
class FeatureDrift:
    feature: str
    method: str  # psi | js
    value: float
    threshold: float
    noise_floor: float
    alarm: bool
    bins: list[str]
    reference_share: list[float]
    current_share: list[float]

    def top_shift(self) -> str:
        """The bin whose share moved most, for a one-line explanation."""
        moves = [c - r for r, c in zip(self.reference_share, self.current_share, strict=True)]
        i = int(np.argmax(np.abs(moves)))
        return f"{self.bins[i]}: {self.reference_share[i]:.1%} -> {self.current_share[i]:.1%}"


@dataclass
class DriftResult:
    model_tag: str
    rows: int
    reference_rows: int
    thresholds: Thresholds
    features: list[FeatureDrift]
    score: FeatureDrift
    estimated_accuracy: float
    reference_accuracy: float
    ignored: list[str] = field(default_factory=list)
    sufficient: bool = True

    @property
    def accuracy_alarm(self) -> bool:
        floor = self.reference_accuracy * (1 - self.thresholds.max_accuracy_drop)
        return self.estimated_accuracy < floor

    @property
    def alarms(self) -> list[str]:
        """One line per alarm, most drifted first; empty when nothing drifted."""
        if not self.sufficient:
            return []
        out = [
            f"{f.feature}: {f.method.upper()} {f.value:.3f} > {f.threshold} ({f.top_shift()})"
            for f in sorted(self.features, key=lambda f: -f.value / f.threshold)
            if f.alarm
        ]
        if self.score.alarm:
            out.append(f"score: PSI {self.score.value:.3f} > {self.score.threshold}")
        if self.accuracy_alarm:
            out.append(
                f"estimated accuracy {self.estimated_accuracy:.3f} is more than "
                f"{self.thresholds.max_accuracy_drop:.0%} below the reference's "
                f"{self.reference_accuracy:.3f}"
            )
        return out

    @property
    def status(self) -> str:
        if not self.sufficient:
            return "insufficient_data"
        return "drift" if self.alarms else "ok"

    def to_dict(self) -> dict[str, Any]:
        def row(f: FeatureDrift) -> dict[str, Any]:
            return {
                "feature": f.feature,
                "method": f.method,
                "value": round(f.value, 6),
                "threshold": f.threshold,
                "noise_floor": round(f.noise_floor, 6),
                "alarm": f.alarm,
                "top_shift": f.top_shift(),
            }

        return {
            "status": self.status,
            "model": self.model_tag,
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "alarms": self.alarms,
            "estimated_accuracy": round(self.estimated_accuracy, 6),
            "reference_estimated_accuracy": round(self.reference_accuracy, 6),
            "score_psi": round(self.score.value, 6),
            "features": [row(f) for f in self.features],
            "ignored": self.ignored,
            "thresholds": asdict(self.thresholds),
        }


def _numeric_drift(
    name: str, ref: Mapping[str, Any], values: np.ndarray, threshold: float
) -> FeatureDrift:
    edges = np.asarray(ref["edges"], dtype=np.float64)
    expected = np.asarray(ref["counts"], dtype=np.float64)
    actual = _numeric_counts(values, edges).astype(np.float64)
    labels = [f"< {edges[0]:.4g}"] if len(edges) else ["all"]
    labels += [f"[{lo:.4g}, {hi:.4g})" for lo, hi in itertools.pairwise(edges)]
    labels += [f">= {edges[-1]:.4g}"] if len(edges) else []
    labels.append("missing")
    used = (expected > 0) | (actual > 0)
    value = psi(expected, actual)
    floor = noise_floor("psi", int((expected > 0).sum()), int(actual.sum()), int(expected.sum()))
    return FeatureDrift(
        name,
        "psi",
        value,
        threshold,
        floor,
        value > threshold,
        [lab for lab, u in zip(labels, used, strict=True) if u],
        (expected[used] / expected.sum()).tolist(),
        (actual[used] / max(actual.sum(), 1)).tolist(),
    )


def _categorical_drift(
    name: str, ref: Mapping[str, Any], keys: list[str], threshold: float
) -> FeatureDrift:
    known: dict[str, int] = dict(ref["counts"])
    counts = Counter(keys)
    current: dict[str, int] = Counter()
    for key, c in counts.items():
        if key in known:
            current[key] += c
        elif OTHER in known and key != MISSING:
            current[OTHER] += c  # once rare ones are pooled, new and rare look alike
        else:
            current[UNSEEN] += c
    bins = [*known, *([UNSEEN] if current.get(UNSEEN) else [])]
    expected = np.array([known.get(b, 0) for b in bins], dtype=np.float64)
    actual = np.array([current.get(b, 0) for b in bins], dtype=np.float64)
    value = js_distance(expected, actual)
    floor = noise_floor("js", len(known), len(keys), int(expected.sum()))
    return FeatureDrift(
        name,
        "js",
        value,
        threshold,
        floor,
        value > threshold,
        bins,
        (expected / expected.sum()).tolist(),
        (actual / max(actual.sum(), 1)).tolist(),
    )


def check(
    reference: Mapping[str, Any],
    spec: FeatureSpec,
    df: pd.DataFrame,
    scores: np.ndarray,
    thresholds: Thresholds | None = None,
    model_tag: str = "",
    ignore: Sequence[str] = (),
) -> DriftResult:
    """Compare ``df`` (raw feature columns) and its calibrated ``scores`` with the reference."""
    t = thresholds or Thresholds()
    if reference.get("version") != REFERENCE_VERSION:
        raise DriftError(f"reference statistics version {reference.get('version')!r} unsupported")
    unknown = sorted(set(ignore) - set(spec.features))
    if unknown:
        raise DriftError(f"--ignore names no feature of the model: {unknown}")
    absent = [n for n, f in spec.features.items() if n not in df.columns and f.drift]
    absent = [n for n in absent if n not in ignore]
    if absent:
        raise DriftError(f"data lacks feature columns: {absent}")
    skipped = [n for n, f in spec.features.items() if not f.drift or n in ignore]
    results = []
    for name in spec.features:
        if name in skipped:
            continue
        ref = reference["features"].get(name)
        if ref is None:
            raise DriftError(f"the reference statistics have no feature {name!r}")
        raw = _raw(spec, name, df[name].to_numpy())
        if ref["kind"] == "numeric":
            assert isinstance(raw, np.ndarray)
            results.append(_numeric_drift(name, ref, raw, t.psi))
        else:
            assert isinstance(raw, list)
            results.append(_categorical_drift(name, ref, raw, t.js))
    score_ref = reference["score"]
    score = _numeric_drift("score", score_ref, np.asarray(scores, np.float64), t.score_psi)
    return DriftResult(
        model_tag=model_tag,
        rows=len(df),
        reference_rows=int(reference["rows"]),
        thresholds=t,
        features=results,
        score=score,
        estimated_accuracy=cbpe_accuracy(scores),
        reference_accuracy=float(score_ref["estimated_accuracy"]),
        ignored=skipped,
        sufficient=len(df) >= t.min_rows,
    )
