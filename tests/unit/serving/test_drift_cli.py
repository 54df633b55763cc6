"""`ocs drift check`: exit codes, JSON, the HTML report and the metrics a CronJob exports."""

from __future__ import annotations

import json
import re

import pytest
from prometheus_client import generate_latest
from typer.testing import CliRunner

from serving import cli
from serving.config import get_settings
from serving.drift_cli import drift_registry
from training import synth
from training.drift import check
from training.drift_report import DRIFT_PLOTS

runner = CliRunner()


@pytest.fixture
def env(deployment, monkeypatch, tmp_path):
    monkeypatch.setenv("OCS_STATE_DIR", str(deployment.state_dir))
    monkeypatch.setenv("OCS_MODEL_TAG", deployment.tag)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _sample(tmp_path, drift=None, rows=3000, seed=31):
    path = tmp_path / f"{drift or 'stationary'}-{rows}.parquet"
    synth.write(synth.generate(rows, seed=seed, drift=drift), path)
    return path


def test_drifted_sample_exits_3_with_report_and_json(env):
    data = _sample(env, "delivery_shock")
    out = runner.invoke(
        cli.app, ["drift", "check", "--data", str(data), "--report", str(env / "r"), "--json"]
    )
    assert out.exit_code == 3, out.output
    line = json.loads(out.stdout)
    assert line["status"] == "drift" and line["rows"] == 3000 and line["pushed"] is False
    assert any(a.startswith("delivery_delay_days: PSI") for a in line["alarms"])
    assert line["score_psi"] > 0.2
    page = (env / "r" / "drift.html").read_text()
    for plot in (*DRIFT_PLOTS, "feature-delivery_delay_days"):
        figure = re.search(rf'<figure id="{plot}">(<svg.*?</svg>)', page, re.S)
        assert figure and len(figure.group(1)) > 2000, plot
    assert "DRIFT" in page and line["report"] == str(env / "r" / "drift.html")


def test_stationary_sample_exits_0_and_small_one_4(env):
    out = runner.invoke(cli.app, ["drift", "check", "--data", str(_sample(env))])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("ok: ") and "estimated accuracy 0." in out.output
    small = runner.invoke(cli.app, ["drift", "check", "--data", str(_sample(env, rows=500))])
    assert small.exit_code == 4 and "not judged" in small.output


def test_bad_input_exits_2_with_a_message(env, tmp_path, monkeypatch):
    none = runner.invoke(cli.app, ["drift", "check"])
    assert none.exit_code == 2 and "--data PATH" in none.output
    missing = runner.invoke(cli.app, ["drift", "check", "--data", str(tmp_path / "x.csv")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    tag = runner.invoke(cli.app, ["drift", "check", "--model", "nope", "--data", "x.csv"])
    assert tag.exit_code == 2 and "not in the registry" in tag.output
    monkeypatch.setenv("OCS_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")  # new, empty
    get_settings.cache_clear()
    db = runner.invoke(cli.app, ["drift", "check", "--from-db"])
    assert db.exit_code == 2 and "no orders scored in the last 7 days" in db.output


def test_a_model_without_reference_needs_one(env, trained, tmp_path, monkeypatch):
    from training.artifact import ModelArtifact
    from training.pipeline import register
    from training.registry import Registry

    artifact = trained.artifact
    old = ModelArtifact(artifact.spec, artifact.preprocessor, artifact.net, artifact.calibrator)
    result = type(trained)(**{**trained.__dict__, "artifact": old})
    # its own registry: the session's stays as the other tests expect it
    tag = register(result, Registry(tmp_path / "old" / "registry"), source="old")
    monkeypatch.setenv("OCS_STATE_DIR", str(tmp_path / "old"))
    get_settings.cache_clear()
    data = _sample(env)
    out = runner.invoke(cli.app, ["drift", "check", "--model", tag, "--data", str(data)])
    assert out.exit_code == 2 and "no drift reference statistics" in out.output
    ref = tmp_path / "ref.parquet"
    trained.parts.train.to_parquet(ref)
    out = runner.invoke(
        cli.app, ["drift", "check", "--model", tag, "--data", str(data), "--reference", str(ref)]
    )
    assert out.exit_code == 0, out.output


def test_metrics_carry_the_contract_names(trained):
    df = synth.generate(3000, seed=4, drift="new_region")
    a = trained.artifact
    result = check(a.reference, a.spec, df, a.predict_frame(df))
    text = generate_latest(drift_registry(result, "v1")).decode()
    assert 'ocs_feature_drift_score{feature="region",method="js",model_version="v1"}' in text
    assert 'ocs_feature_drift_score{feature="order_value",method="psi",model_version="v1"}' in text
    assert re.search(r'^ocs_score_drift_psi\{model_version="v1"\} 0\.\d+', text, re.M)
    assert re.search(r'^ocs_estimated_accuracy\{model_version="v1"\} 0\.\d+', text, re.M)
    assert "ocs_drift_check_last_success_timestamp_seconds " in text
    small = check(a.reference, a.spec, df[:100], a.predict_frame(df[:100]))
    assert generate_latest(drift_registry(small, "v1")) == b""  # nothing judged, nothing said
