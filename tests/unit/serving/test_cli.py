import json

import pytest
from typer.testing import CliRunner

from serving import cli
from serving.config import get_settings

runner = CliRunner()


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("OCS_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_synth_train_list_show(state):
    data = state / "orders.csv"
    out = runner.invoke(
        cli.app, ["data", "synth", "--rows", "3000", "--seed", "4", "--out", str(data)]
    )
    assert out.exit_code == 0, out.output
    assert "bayes_optimal_accuracy 0." in out.output
    out = runner.invoke(
        cli.app,
        ["train", "--data", str(data), "--spec", "dealer_orders", "--epochs", "2", "--json"],
    )
    assert out.exit_code == 0, out.output
    line = json.loads(out.stdout.strip().splitlines()[-1])
    assert line["tag"].startswith("cancel-predictor:") and line["split"] == "temporal"
    assert 0 < line["metrics"]["test"]["roc_auc"] <= 1
    listed = runner.invoke(cli.app, ["models", "list", "--json"])
    assert json.loads(listed.stdout)[0]["tag"] == line["tag"]
    shown = json.loads(runner.invoke(cli.app, ["models", "show", line["tag"]]).stdout)
    assert shown["data_source"] == str(data) and shown["labels"]["spec"] == "dealer_orders"


def test_errors_exit_2_with_a_message(state):
    bad = runner.invoke(
        cli.app, ["train", "--data", str(state / "none.csv"), "--spec", "dealer_orders"]
    )
    assert bad.exit_code == 2 and "no such file" in bad.output
    assert runner.invoke(cli.app, ["models", "show", "nope"]).exit_code == 2
    drift = runner.invoke(cli.app, ["data", "synth", "--out", str(state / "x.csv"), "--drift", "x"])
    assert drift.exit_code == 2 and "unknown drift scenario" in drift.output


def test_keys_create_in_local_mode(state):
    out = runner.invoke(cli.app, ["keys", "create", "--name", "oms", "--scopes", "predict,emails"])
    assert out.exit_code == 0 and "key (shown once): ocs_" in out.output
    assert (
        runner.invoke(cli.app, ["keys", "create", "--name", "x", "--scopes", "root"]).exit_code == 2
    )
