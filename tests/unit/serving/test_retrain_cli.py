"""`ocs train pipeline`: a fresh model passes the gate and is proposed as a canary; a model
trained on shuffled labels is refused with the reason; models travel through a registry URI."""

from __future__ import annotations

import json

import pytest
import yaml
from prometheus_client import generate_latest
from typer.testing import CliRunner

from serving import cli
from serving.retrain_cli import from_store_labels, retrain_registry
from tests import chart
from training import synth
from training.registry import Registry

runner = CliRunner()
# Small data: the AUC of 1,200 holdout rows has a standard error near 0.015, so the tests allow
# a candidate 0.03 below the current model; shuffled labels land near 0.5 all the same.
FAST = ["--epochs", "6", "--max-auc-drop", "0.03", "--json"]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    path = tmp_path_factory.mktemp("retrain") / "fresh.parquet"
    synth.write(synth.generate(6000, seed=11), path)
    return path


@pytest.fixture
def state(registry_copy):
    """A copy of the session's registry: these tests register models of their own."""
    return registry_copy


@pytest.mark.slow
def test_fresh_data_passes_the_gate_and_is_proposed_as_canary(state, fresh, deployment, tmp_path):
    uri = f"file://{tmp_path / 'bucket' / 'models'}"
    out = runner.invoke(
        cli.app, ["train", "pipeline", "--data", str(fresh), "--registry-uri", uri, *FAST]
    )
    assert out.exit_code == 0, out.output
    run = json.loads(out.stdout.strip().splitlines()[-1])
    assert run["verdict"] == "promoted" and run["current"] == deployment.tag
    assert run["holdout"]["rows"] == 1200 and run["holdout"]["from"] >= "2025-07-01"
    record = Registry(state / "registry").record(run["tag"])
    assert record.labels["stage"] == "canary-proposed"
    assert record.metadata["gate"]["passed"] is True
    assert record.metadata["compared_with"] == deployment.tag
    values = yaml.safe_load((state / "retrain" / "canary-values.yaml").read_text())
    assert values == {
        "predictor": {
            "canary": {"enabled": True, "modelTag": run["tag"], "weight": 10, "shadow": False}
        }
    }
    assert "--set predictor.canary.modelTag=" + run["tag"] in " ".join(run["helm_command"])
    (saved,) = (state / "retrain").glob("*-promoted.json")
    assert json.loads(saved.read_text())["tag"] == run["tag"]
    # the serving side imports it from the registry URI into its own registry
    assert run["exported"].endswith(f"{run['tag'].replace(':', '-')}.bentomodel")
    proposal = tmp_path / "bucket" / "models" / "proposals"
    assert run["proposal"].endswith(".canary-values.yaml")
    assert yaml.safe_load(next(proposal.iterdir()).read_text()) == values  # outlives the pod
    serving = Registry(tmp_path / "serving-registry")
    assert serving.import_(run["exported"]) == run["tag"]
    assert serving.load(run["tag"]).reference is not None
    if chart.helm() is not None:  # what was proposed renders as a canary release
        docs = chart.documents(chart.template(str(state / "retrain" / "canary-values.yaml")))
        app = chart.serve_config(docs)["applications"][0]
        assert app["args"]["canary_model_tag"] == run["tag"]
        assert "PredictorCanary" in [d["name"] for d in app["deployments"]]


@pytest.mark.slow
def test_shuffled_labels_are_refused_with_the_reason(state, fresh):
    before = {r.tag for r in Registry(state / "registry").list()}
    out = runner.invoke(
        cli.app, ["train", "pipeline", "--data", str(fresh), "--shuffle-labels", *FAST]
    )
    assert out.exit_code == 3, out.output
    run = json.loads(out.stdout.strip().splitlines()[-1])
    assert run["verdict"] == "refused" and run["tag"] is None
    assert run["candidate"]["roc_auc"] < 0.6 < run["current_metrics"]["roc_auc"]
    assert any(r.startswith("AUC ") and " < " in r for r in run["reasons"]), run["reasons"]
    assert {r.tag for r in Registry(state / "registry").list()} == before  # not registered
    assert not (state / "retrain" / "canary-values.yaml").exists()
    assert list((state / "retrain").glob("*-refused.json"))


def test_pipeline_input_errors(state, fresh):
    none = runner.invoke(cli.app, ["train", "pipeline"])
    assert none.exit_code == 2 and "--data PATH" in none.output
    db = runner.invoke(cli.app, ["train", "pipeline", "--from-db"])  # a new, empty store
    assert db.exit_code == 2 and "no orders with outcomes yet" in db.output
    both = runner.invoke(cli.app, ["train", "pipeline", "--from-db", "--data", str(fresh)])
    assert both.exit_code == 2 and "one data source" in both.output
    # `ocs train` itself still needs its spec
    bare = runner.invoke(cli.app, ["train"])
    assert bare.exit_code == 2 and "missing option --spec" in bare.output


def test_retrain_metric_name():
    text = generate_latest(retrain_registry("refused")).decode()
    assert 'ocs_retrain_last_run_timestamp_seconds{result="refused"}' in text


def test_store_labels_map_to_the_specs_positive_value(spec, orders_df):
    """training_frame() says 1 for cancelled; dealer_orders names `cancelled` the positive."""
    from training.data import labels

    frame = orders_df.assign(outcome=(orders_df["outcome"] == "cancelled").astype(int))
    assert (labels(from_store_labels(frame, spec), spec) == labels(orders_df, spec)).all()
