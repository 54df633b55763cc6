import numpy as np
import pandas as pd
import pytest

from training import synth
from training.spec import load_spec


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return synth.generate(40_000, seed=11)


def test_same_seed_same_data_other_seed_differs():
    a, b, c = synth.generate(500, seed=1), synth.generate(500, seed=1), synth.generate(500, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["cancel_probability"].equals(c["cancel_probability"])


def test_columns_cover_the_spec_and_email_fields(big):
    spec = load_spec("dealer_orders")
    needed = {spec.id_column, spec.label.column, spec.time_column, *spec.features}
    needed |= {"customer_first_name", "customer_last_name", "customer_email", "dealer_name"}
    assert needed <= set(big.columns)
    assert len(spec.features) >= 15
    assert big["order_id"].is_unique
    assert big["order_date"].is_monotonic_increasing


def test_base_rate_and_bayes_accuracy(big):
    rate = (big["outcome"] == "cancelled").mean()
    assert 0.20 <= rate <= 0.35
    manual = np.mean((big["cancel_probability"] >= 0.5) == (big["outcome"] == "cancelled"))
    assert synth.bayes_accuracy(big) == pytest.approx(manual)
    # Labels follow the probabilities: the mean probability matches the observed rate.
    assert big["cancel_probability"].mean() == pytest.approx(rate, abs=0.01)


def test_seasonal_surge_and_dealer_effects(big):
    by_month = big.groupby("order_month")["cancel_probability"].mean()
    assert by_month[1] > by_month[12] + 0.05
    by_dealer = big.groupby("dealer_id")["cancel_probability"].mean()
    assert by_dealer.max() - by_dealer.min() > 0.15


def test_missing_values_present_where_documented(big):
    assert 0.02 < big["customer_tenure_years"].isna().mean() < 0.06
    assert big["num_contacts"].isna().any()
    assert not big["order_value"].isna().any()


@pytest.mark.parametrize("scenario", synth.DRIFT_SCENARIOS)
def test_drift_scenarios_shift_the_data(big, scenario):
    drifted = synth.generate(40_000, seed=11, drift=scenario)
    if scenario == "delivery_shock":
        assert drifted["delivery_delay_days"].mean() > big["delivery_delay_days"].mean() + 12
        assert (drifted["outcome"] == "cancelled").mean() > (big["outcome"] == "cancelled").mean()
    elif scenario == "price_increase":
        ratio = drifted["order_value"].median() / big["order_value"].median()
        assert ratio == pytest.approx(1.2, abs=0.03)
    else:
        assert "overseas" not in set(big["region"])
        assert (drifted["region"] == "overseas").mean() == pytest.approx(0.35, abs=0.02)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown drift scenario"):
        synth.generate(10, drift="meteor")
    with pytest.raises(ValueError, match="at least 1"):
        synth.generate(0)


def test_write_csv_and_parquet(tmp_path):
    df = synth.generate(50, seed=0)
    for name in ("o.csv", "o.parquet"):
        synth.write(df, tmp_path / name)
        assert (tmp_path / name).stat().st_size > 0
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        synth.write(df, tmp_path / "o.xlsx")
