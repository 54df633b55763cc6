"""Protocol hotel-temporal-v1 on the real Hotel Booking Demand data in ../shared/data."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from serving import cli
from serving.config import get_settings
from training.data import DataError, split
from training.loaders import data_path, load_dataset, prepare
from training.report import PLOTS
from training.spec import load_spec

DATA_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
HOTEL = DATA_DIR / "hotel_bookings.parquet"
needs_data = pytest.mark.skipif(not HOTEL.is_file(), reason=f"{HOTEL} is not there")


@pytest.fixture(scope="module")
def hotel():
    spec = load_spec("hotel_bookings")
    _, df = load_dataset(spec, None, DATA_DIR)
    return spec, df


@needs_data
def test_loader_adds_ids_and_dates_and_drops_the_leaks(hotel):
    spec, df = hotel
    assert len(df) == 119_390
    for column in spec.drop_columns:
        assert column not in df.columns
    assert df["booking_id"].is_unique and df["booking_id"].map(type).eq(str).all()
    assert df["arrival_date"].min() == pd.Timestamp("2015-07-01")
    assert df["arrival_date"].max() == pd.Timestamp("2017-08-31")


@needs_data
def test_split_trains_on_2015_2016_and_tests_on_2017(hotel):
    spec, df = hotel
    parts = split(df, spec, seed=0)
    assert parts.kind == "temporal"
    assert len(parts.train) + len(parts.valid) == 78_703 and len(parts.test) == 40_687
    assert parts.test["arrival_date"].dt.year.eq(2017).all()
    assert parts.valid["arrival_date"].dt.year.eq(2016).all()
    # validation is the latest part of the training period
    assert parts.train["arrival_date"].max() <= parts.valid["arrival_date"].min()
    assert len(parts.valid) == round(78_703 * spec.split.valid_fraction)


def test_missing_pieces_are_reported(tmp_path):
    spec = load_spec("hotel_bookings")
    with pytest.raises(DataError, match="set OCS_DATA_DIR"):
        data_path(spec, None, tmp_path)
    with pytest.raises(DataError, match=r"columns .* are not in the data"):
        prepare(pd.DataFrame({"x": [1]}), spec)


@needs_data
@pytest.mark.slow
def test_train_with_baselines_and_report_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("OCS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("OCS_DATA_DIR", str(DATA_DIR))
    get_settings.cache_clear()
    runner = CliRunner()
    args = ["train", "--spec", "hotel_bookings", "--epochs", "2", "--ensemble", "1"]
    try:
        out = runner.invoke(
            cli.app, [*args, "--baselines", "--report", str(tmp_path / "rep"), "--json"]
        )
        assert out.exit_code == 0, out.output
        line = json.loads(out.stdout.strip().splitlines()[-1])
        shown = json.loads(runner.invoke(cli.app, ["models", "show", line["tag"]]).stdout)
    finally:
        get_settings.cache_clear()
    assert line["protocol"] == "hotel-temporal-v1"
    table = line["baselines"]
    assert set(table) == {"torch_mlp", "logistic_regression", "hist_gradient_boosting", "lightgbm"}
    for row in table.values():
        assert set(row) == {
            "roc_auc",
            "accuracy",
            "log_loss",
            "brier",
            "ece",
            "fit_seconds",
            "predict_ms_per_1000",
        }
        assert 0.8 < row["roc_auc"] < 0.95  # every learner sees real signal, none sees a leak
    assert table["torch_mlp"]["roc_auc"] == pytest.approx(line["metrics"]["test"]["roc_auc"])
    # the report is written, holds the four plots, and travels with the model
    page = (tmp_path / "rep" / "report.html").read_text()
    for plot in PLOTS:
        assert re.search(rf'<figure id="{plot}"><svg', page), plot
    assert "hist_gradient_boosting" in page and "Global feature importance" in page
    assert Path(shown["report"]).read_text() == page
    assert shown["protocol"] == "hotel-temporal-v1" and set(shown["risk_bands"]) == {
        "medium",
        "high",
    }
