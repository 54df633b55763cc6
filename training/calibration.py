"""Post-hoc calibration fitted on validation: the served probability is the calibrated one.

Temperature scaling divides the logit by one fitted number: it keeps the ranking (AUC) and the
explanations (contributions are in logit units and scale with it). Isotonic regression is
available for data whose miscalibration is not a single stretch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import minimize_scalar

Method = Literal["temperature", "isotonic", "none"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return out


def _nll(logits: np.ndarray, y: np.ndarray) -> float:
    # log(1 + e^z) - y z, stable for large |z|
    return float(np.mean(np.logaddexp(0.0, logits) - y * logits))


@dataclass(frozen=True)
class Calibrator:
    method: Method = "none"
    temperature: float = 1.0
    x: list[float] = field(default_factory=list)  # isotonic knots on the logit scale
    y: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, logits: np.ndarray, y: np.ndarray, method: Method) -> Calibrator:
        if method == "none":
            return cls()
        if method == "temperature":
            found = minimize_scalar(
                lambda log_t: _nll(logits / np.exp(log_t), y),
                bounds=(-3.0, 3.0),
                method="bounded",
                options={"xatol": 1e-6},
            )
            return cls("temperature", float(np.exp(found.x)))
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=1e-4, y_max=1 - 1e-4, out_of_bounds="clip").fit(logits, y)
        return cls(
            "isotonic", x=iso.X_thresholds_.astype(float).tolist(), y=iso.y_thresholds_.tolist()
        )

    def scale(self) -> float:
        """Factor from raw logits to calibrated logits (temperature), 1 otherwise."""
        return 1.0 / self.temperature

    def probability(self, logits: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            out: np.ndarray = np.interp(logits, self.x, self.y)
            return out
        return sigmoid(logits / self.temperature)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "temperature": self.temperature, "x": self.x, "y": self.y}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        return cls(data["method"], data["temperature"], data.get("x", []), data.get("y", []))
