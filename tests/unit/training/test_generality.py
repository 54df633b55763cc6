"""Any table with a spec trains: a differently shaped data set, built here, end to end."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from serving import cli
from serving.config import get_settings
from training.baselines import compare
from training.registry import Registry
from training.spec import FeatureSpec
from training.train import TrainParams, train

SPEC = {
    "name": "subscriptions",
    "description": "software subscriptions; churn = the customer cancels at renewal",
    "id_column": "ref",
    "label": {"column": "churned", "positive": "yes"},
    "features": {
        "seats": {"type": "numeric", "transform": "log1p"},
        "monthly_fee": {"type": "numeric", "missing": "median", "indicator": True},
        "plan": {"type": "categorical"},
        "country": {"type": "categorical", "min_count": 30},
        "auto_renew": {"type": "boolean"},
        "tickets": {"type": "numeric", "missing": "zero"},
    },
}


def subscriptions(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["free", "team", "enterprise"], n, p=[0.5, 0.35, 0.15])
    # a long tail of rare countries that must share the unknown bucket
    common = rng.choice(["DE", "FR", "US", "BR"], n)
    rare = np.array([f"X{i:03d}" for i in rng.integers(0, 400, n)])
    country = np.where(rng.random(n) < 0.1, rare, common)
    seats = rng.integers(1, 500, n)
    fee = rng.gamma(2.0, 30.0, n)
    auto = rng.random(n) < 0.6
    tickets = rng.poisson(2.0, n).astype(float)
    logit = (
        -0.5
        + 1.2 * (plan == "free")
        - 0.8 * (plan == "enterprise")
        - 1.5 * auto
        + 0.35 * tickets
        - 0.3 * np.log1p(seats)
        + 0.01 * fee
    )
    churned = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    df = pd.DataFrame(
        {
            "ref": [f"sub-{seed}-{i:05d}" for i in range(n)],
            "seats": seats,
            "monthly_fee": fee,
            "plan": plan,
            "country": country,
            "auto_renew": np.where(auto, "Y", "N"),
            "tickets": tickets,
            "churned": churned,
        }
    )
    df.loc[rng.random(n) < 0.08, "monthly_fee"] = np.nan
    df.loc[rng.random(n) < 0.05, "country"] = None
    df.loc[rng.random(n) < 0.05, "tickets"] = np.nan
    return df


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return subscriptions(4000, seed=11)


def test_a_differently_shaped_table_trains_through_the_cli(tmp_path, monkeypatch, data):
    monkeypatch.setenv("OCS_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    spec_path = tmp_path / "subscriptions.yaml"
    spec_path.write_text(yaml.safe_dump(SPEC))
    csv = tmp_path / "subscriptions.csv"
    data.to_csv(csv, index=False)
    try:
        out = CliRunner().invoke(
            cli.app,
            ["train", "--data", str(csv), "--spec", str(spec_path), "--epochs", "8", "--json"],
        )
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    line = json.loads(out.stdout.strip().splitlines()[-1])
    assert line["split"] == "random"  # no time column in this spec
    assert line["metrics"]["test"]["roc_auc"] > 0.75
    artifact = Registry(tmp_path / "state" / "registry").load(line["tag"])
    vocab = artifact.preprocessor.state["country"]["vocabulary"]
    assert set(vocab) == {"DE", "FR", "US", "BR"}  # rare countries were bucketed
    # unseen categories, missing values and string booleans score like any other order
    p = artifact.predict_records(
        [
            {
                "seats": 3,
                "monthly_fee": None,
                "plan": "startup",
                "country": "ZZ",
                "auto_renew": "N",
                "tickets": None,
            },
            {
                "seats": 40,
                "monthly_fee": 20.0,
                "plan": "enterprise",
                "country": "DE",
                "auto_renew": "Y",
                "tickets": 0,
            },
        ]
    )
    assert np.all((p > 0) & (p < 1)) and p[0] > p[1]


def test_same_data_spec_and_seed_give_the_same_metrics(data):
    spec = FeatureSpec.from_dict(SPEC)
    params = TrainParams(seed=5, epochs=4, ensemble=2)
    first = train(data, spec, params, progress=False)
    second = train(data, spec, params, progress=False)
    for part in ("valid", "test"):
        for name, value in first.metrics[part].items():
            assert second.metrics[part][name] == pytest.approx(value, abs=1e-6), (part, name)
    assert first.artifact.calibrator.temperature == pytest.approx(
        second.artifact.calibrator.temperature, abs=1e-6
    )
    tables = [
        compare(r.parts, r.artifact.preprocessor, r.artifact.predict_proba, 0.0, 5)[0]
        for r in (first, second)
    ]
    for model, row in tables[0].items():
        for metric in ("roc_auc", "accuracy", "log_loss", "brier", "ece"):
            assert tables[1][model][metric] == pytest.approx(row[metric], abs=1e-6), model
    other = train(data, spec, TrainParams(seed=6, epochs=4, ensemble=2), progress=False)
    assert other.metrics["test"]["log_loss"] != first.metrics["test"]["log_loss"]
