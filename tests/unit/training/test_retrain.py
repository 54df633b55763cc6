"""The retraining gate and the holdout it judges on (pure functions; no training here)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from training.data import DataError
from training.retrain import GateRule, holdout_split, judge

CURRENT = {"roc_auc": 0.80, "ece": 0.03}


def test_holdout_is_the_latest_slice_by_time(orders_df, spec):
    shuffled = orders_df.sample(frac=1, random_state=1)
    train, holdout = holdout_split(shuffled, spec, 0.2)
    assert len(holdout) == round(0.2 * len(orders_df)) and len(train) + len(holdout) == len(
        orders_df
    )
    assert pd.to_datetime(train["order_date"]).max() <= pd.to_datetime(holdout["order_date"]).min()
    assert not set(train["order_id"]) & set(holdout["order_id"])
    with pytest.raises(DataError, match="holdout of 30 rows"):
        holdout_split(orders_df.head(300), spec, 0.1)


@pytest.mark.parametrize(
    ("candidate", "passed", "broken"),
    [
        ({"roc_auc": 0.80, "ece": 0.03}, True, None),
        ({"roc_auc": 0.791, "ece": 0.049}, True, None),  # within both tolerances
        ({"roc_auc": 0.78, "ece": 0.03}, False, "AUC 0.7800 < 0.7900"),
        ({"roc_auc": 0.85, "ece": 0.06}, False, "ECE 0.0600 > 0.0500"),
        ({"roc_auc": math.nan, "ece": 0.03}, False, "AUC nan"),
    ],
)
def test_gate_rules(candidate, passed, broken):
    gate = judge(candidate, CURRENT, GateRule(max_auc_drop=0.01, max_ece_increase=0.02))
    assert gate.passed is passed
    assert len(gate.reasons) == 2  # each rule says how it went, met or not
    if broken:
        assert any(r.startswith(broken) for r in gate.reasons), gate.reasons


def test_first_model_passes_and_its_record_has_no_none():
    gate = judge({"roc_auc": 0.7, "ece": 0.1}, None, GateRule())
    assert gate.passed and "first model" in gate.reasons[0]
    assert "current" not in gate.to_dict()  # BentoML metadata refuses None
