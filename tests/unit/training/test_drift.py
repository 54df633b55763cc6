"""Drift statistics on the synthetic scenarios: each is flagged, stationary samples are not."""

from __future__ import annotations

import numpy as np
import pytest

from training import synth
from training.artifact import ModelArtifact
from training.drift import (
    UNSEEN,
    DriftError,
    Thresholds,
    cbpe_accuracy,
    check,
    js_distance,
    noise_floor,
    psi,
    reference_stats,
)
from training.metrics import binary_metrics

SAMPLE_ROWS = 3000  # above the default OCS_DRIFT_MIN_ROWS (2000); see the noise-floor test
STATIONARY_SEEDS = range(100, 120)
# scenario -> the features whose drift it must show (synth.py documents what each one shifts)
EXPECTED = {
    "delivery_shock": {"delivery_delay_days"},
    "price_increase": {"deposit_share", "order_value"},
    "new_region": {"region"},
}


def _check(trained, df, **kwargs):
    artifact = trained.artifact
    return check(artifact.reference, artifact.spec, df, artifact.predict_frame(df), **kwargs)


def test_divergences_of_known_distributions():
    a = np.array([10.0, 20, 30, 40])
    assert psi(a, a * 3) == pytest.approx(0.0)
    assert js_distance(a, a) == pytest.approx(0.0)
    assert js_distance(np.array([1.0, 0]), np.array([0.0, 1])) == pytest.approx(1.0)
    # PSI of a shift of a tenth of the mass from the first bin to the second, by hand
    e, q = np.array([0.5, 0.5]), np.array([0.4, 0.6])
    assert psi(e * 100, q * 100) == pytest.approx(0.1 * np.log(0.6 / 0.5) - 0.1 * np.log(0.4 / 0.5))
    assert cbpe_accuracy(np.array([0.9, 0.1, 0.5, 0.3])) == pytest.approx(
        (0.9 + 0.9 + 0.5 + 0.7) / 4
    )
    assert cbpe_accuracy(np.array([0.3]), threshold=0.25) == pytest.approx(0.3)


def test_reference_is_saved_with_the_model_and_survives_the_registry(trained, deployment):
    from training.registry import Registry

    ref = trained.artifact.reference
    assert ref["rows"] == len(trained.parts.train)
    assert ref["score"]["rows"] == len(trained.parts.test)
    assert ref["features"]["delivery_delay_days"]["kind"] == "numeric"
    assert len(ref["features"]["delivery_delay_days"]["edges"]) == 9  # deciles
    assert ref["features"]["trade_in"]["kind"] == "categorical"  # booleans: true / false
    loaded = Registry(deployment.state_dir / "registry").load(deployment.tag)
    assert loaded.reference == ref


@pytest.mark.parametrize("scenario", synth.DRIFT_SCENARIOS)
def test_each_drift_scenario_is_flagged_on_the_feature_it_shifts(trained, scenario):
    df = synth.generate(SAMPLE_ROWS, seed=7, drift=scenario)
    result = _check(trained, df)
    assert result.status == "drift"
    flagged = {f.feature for f in result.features if f.alarm}
    assert EXPECTED[scenario] & flagged, (flagged, result.alarms)
    assert flagged <= EXPECTED[scenario] | {"num_contacts"}, result.alarms  # contacts follow delay
    if scenario == "new_region":
        region = next(f for f in result.features if f.feature == "region")
        assert region.bins[-1] == UNSEEN and region.current_share[-1] == pytest.approx(
            0.35, abs=0.03
        )
    if scenario == "delivery_shock":  # the shock moves the scores too
        assert result.score.alarm


def test_stationary_samples_raise_no_alarm_in_95_percent_of_seeds(trained):
    results = [_check(trained, synth.generate(SAMPLE_ROWS, seed=s)) for s in STATIONARY_SEEDS]
    alarmed = [r.alarms for r in results if r.status != "ok"]
    assert len(alarmed) <= 0.05 * len(results), alarmed
    # the largest stationary divergence stays well below its threshold, not just below it
    worst = max(f.value / f.threshold for r in results for f in r.features)
    assert worst < 0.9


def test_cbpe_tracks_realized_accuracy_without_labels(trained):
    """Calibrated probabilities predict the accuracy the labels later show, up to the model's
    own calibration error: |CBPE - accuracy| is at most the ECE on the same orders."""
    for scenario in (None, "delivery_shock"):
        df = synth.generate(SAMPLE_ROWS, seed=21, drift=scenario)
        p = trained.artifact.predict_frame(df)
        metrics = binary_metrics((df["outcome"] == "cancelled").to_numpy(float), p)
        gap = abs(cbpe_accuracy(p) - metrics["accuracy"])
        assert gap <= metrics["ece"] + 0.005, (scenario, gap, metrics["ece"])
        assert gap < 0.04, scenario


def test_small_samples_are_not_judged_and_carry_a_higher_noise_floor(trained):
    small = synth.generate(300, seed=5)
    result = _check(trained, small)
    assert result.status == "insufficient_data" and result.alarms == []
    big = _check(trained, synth.generate(SAMPLE_ROWS, seed=5))
    dealer_small = next(f for f in result.features if f.feature == "dealer_id")
    dealer_big = next(f for f in big.features if f.feature == "dealer_id")
    # the positive bias: same distribution, larger divergence on fewer rows, as predicted
    assert dealer_small.value > dealer_big.value
    assert dealer_small.noise_floor > dealer_big.noise_floor
    assert dealer_small.value == pytest.approx(dealer_small.noise_floor, rel=0.35)
    assert noise_floor("psi", 10, 1000, 1000) == pytest.approx(9 * 0.002)


def test_calendar_features_and_ignored_ones_are_not_compared(trained):
    df = synth.generate(SAMPLE_ROWS, seed=9)
    df["order_month"] = 1  # every order in January: shares follow the season, not drift
    result = _check(trained, df, ignore=["dealer_id"])
    assert {"order_month", "dealer_id"} <= set(result.ignored)
    assert "order_month" not in {f.feature for f in result.features}
    assert result.status == "ok"
    with pytest.raises(DriftError, match="no feature of the model"):
        _check(trained, df, ignore=["nope"])
    artifact = trained.artifact
    with pytest.raises(DriftError, match="lacks feature columns"):
        scores = artifact.predict_frame(df)
        check(artifact.reference, artifact.spec, df.drop(columns=["region"]), scores)


def test_thresholds_decide(trained):
    df = synth.generate(SAMPLE_ROWS, seed=7, drift="new_region")
    assert _check(trained, df, thresholds=Thresholds(js=0.99)).status == "ok"


def test_old_models_without_reference_can_compute_one(trained, tmp_path):
    artifact = trained.artifact
    old = ModelArtifact(artifact.spec, artifact.preprocessor, artifact.net, artifact.calibrator)
    old.save(tmp_path / "m")
    assert ModelArtifact.load(tmp_path / "m").reference is None
    df = trained.parts.train
    ref = reference_stats(df, artifact.spec, artifact.predict_frame(df))
    assert ref["features"].keys() == artifact.reference["features"].keys()
