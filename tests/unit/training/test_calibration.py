import numpy as np
import pytest

from training.bands import band, choose_bands
from training.calibration import Calibrator
from training.metrics import expected_calibration_error


def _overconfident(n=40_000, temperature=2.0, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, n)  # the model's logits are twice what they should be
    y = (rng.random(n) < 1 / (1 + np.exp(-logits / temperature))).astype(float)
    return logits, y


def test_temperature_scaling_recovers_the_temperature_and_lowers_ece():
    logits, y = _overconfident()
    cal = Calibrator.fit(logits, y, "temperature")
    assert cal.temperature == pytest.approx(2.0, rel=0.05)
    raw = expected_calibration_error(y, 1 / (1 + np.exp(-logits)))
    assert expected_calibration_error(y, cal.probability(logits)) < raw / 3
    # temperature keeps the ranking
    assert np.all(np.diff(cal.probability(np.sort(logits))) >= 0)


def test_isotonic_is_monotone_and_round_trips():
    logits, y = _overconfident(seed=1)
    cal = Calibrator.fit(logits, y, "isotonic")
    grid = np.linspace(-10, 10, 101)
    assert np.all(np.diff(cal.probability(grid)) >= 0)
    again = Calibrator.from_dict(cal.to_dict())
    np.testing.assert_array_equal(again.probability(grid), cal.probability(grid))
    assert Calibrator.fit(logits, y, "none").probability(np.zeros(1))[0] == 0.5


def test_bands_follow_the_observed_rate_on_validation():
    rng = np.random.default_rng(2)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(float)  # perfectly calibrated scores
    bands = choose_bands(y, p)
    assert bands["medium"] == pytest.approx(0.5, abs=0.03)
    assert bands["high"] == pytest.approx(0.8, abs=0.03)
    assert [band(x, bands) for x in (0.1, bands["medium"], bands["high"])] == [
        "low",
        "medium",
        "high",
    ]


def test_bands_fall_back_when_validation_never_reaches_the_rate():
    p = np.linspace(0.01, 0.3, 1000)
    y = np.zeros(1000)
    y[::10] = 1
    assert choose_bands(y, p) == {"medium": 0.5, "high": 0.8}
