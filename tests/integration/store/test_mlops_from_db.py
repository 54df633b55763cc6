"""The CronJobs' commands on the system of record: the daily batch fills it, `ocs drift check
--from-db` compares the orders it scored, `ocs train pipeline --from-db` retrains on the orders
whose outcomes came back."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from serving import cli
from serving.config import get_settings
from serving.store.store import Store
from training import synth

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def state(registry_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("OCS_DATABASE_URL", f"sqlite:///{tmp_path / 'ocs.db'}")
    get_settings.cache_clear()
    return registry_copy


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.slow
def test_drift_and_retraining_read_what_the_batch_and_outcomes_stored(state, deployment, tmp_path):
    day = synth.generate(3000, seed=12)
    day.drop(columns=["outcome", "cancel_probability"]).to_csv(tmp_path / "day.csv", index=False)
    batch = runner.invoke(cli.app, ["batch", "run", "--input", str(tmp_path / "day.csv"), "--json"])
    assert batch.exit_code == 0, batch.output

    empty = runner.invoke(cli.app, ["train", "pipeline", "--from-db", "--json"])
    assert empty.exit_code == 2 and "no orders with outcomes yet" in empty.output

    drift = runner.invoke(cli.app, ["drift", "check", "--from-db", "--json"])
    assert drift.exit_code in (0, 3), drift.output  # judged either way: enough rows, real data
    checked = last_json(drift.stdout)
    assert checked["data"] == "store:orders-scored-in-7-days"
    assert checked["rows"] == 3000 and checked["model"] == deployment.tag

    store = Store(get_settings().database)
    outcomes = zip(day["order_id"], day["outcome"], strict=True)
    report = store.record_outcomes([(o, y, None) for o, y in outcomes])
    store.close()
    assert not report.unknown_orders

    args = ["train", "pipeline", "--from-db", "--epochs", "4", "--max-auc-drop", "0.05", "--json"]
    retrained = runner.invoke(cli.app, args)
    assert retrained.exit_code in (0, 3), retrained.output
    run = last_json(retrained.stdout)
    assert run["data"] == "store:orders-with-outcomes" and run["holdout"]["rows"] == 600
    assert run["verdict"] in {"promoted", "refused"} and run["reasons"]
