"""Risk bands chosen on validation data and stored with the model.

Rule: an order's band is set by how often validation orders *with the same score* were really
cancelled (isotonic regression of the outcome on the calibrated probability). ``high`` starts at
the lowest score where that rate reaches ``HIGH_RATE`` (four in five cancel), ``medium`` where it
reaches ``MEDIUM_RATE`` (cancelling is at least as likely as not). Settings may override both.
"""

from __future__ import annotations

import numpy as np

HIGH_RATE = 0.8
MEDIUM_RATE = 0.5
FALLBACK = {"medium": 0.5, "high": 0.8}  # where validation never reaches a rate


def threshold_for_rate(y: np.ndarray, p: np.ndarray, rate: float) -> float | None:
    """Lowest score whose isotonic cancellation rate is at least ``rate``, else None."""
    from sklearn.isotonic import IsotonicRegression

    fitted = IsotonicRegression(out_of_bounds="clip").fit(p, y).predict(p)
    reached = p[fitted >= rate]
    return float(reached.min()) if reached.size else None


def choose_bands(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    found = {
        "medium": threshold_for_rate(y, p, MEDIUM_RATE),
        "high": threshold_for_rate(y, p, HIGH_RATE),
    }
    high = found["high"] if found["high"] is not None else FALLBACK["high"]
    medium = found["medium"] if found["medium"] is not None else FALLBACK["medium"]
    high = float(np.clip(high, 0.02, 0.99))
    medium = float(np.clip(min(medium, high - 0.01), 0.01, 0.98))
    return {"medium": round(medium, 4), "high": round(high, 4)}


def band(probability: float, thresholds: dict[str, float]) -> str:
    if probability >= thresholds["high"]:
        return "high"
    if probability >= thresholds["medium"]:
        return "medium"
    return "low"


def band_array(probabilities: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """``band`` for many probabilities at once."""
    p = np.asarray(probabilities)
    out: np.ndarray = np.where(
        p >= thresholds["high"], "high", np.where(p >= thresholds["medium"], "medium", "low")
    )
    return out
