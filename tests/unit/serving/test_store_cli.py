"""`ocs db` on an SQLite file, and the commands the Helm chart runs exist (issue 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from serving.cli import app
from serving.config import get_settings

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.setenv("OCS_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_db_current_says_behind_until_upgrade(runner, tmp_path):
    behind = runner.invoke(app, ["db", "current"])
    assert behind.exit_code == 1 and "ocs db upgrade" in behind.output
    up = runner.invoke(app, ["db", "upgrade"])
    assert up.exit_code == 0 and "is at revision" in up.output
    assert (tmp_path / "ocs.db").is_file()
    now = runner.invoke(app, ["db", "current"])
    assert now.exit_code == 0 and "revision 0001; code needs 0001" in now.output


def test_the_charts_batch_and_worker_commands_exist(runner):
    values = yaml.safe_load((ROOT / "helm/ocs/values.yaml").read_text())
    batch = values["cronJobs"]["batch"]["command"]
    worker = (ROOT / "helm/ocs/templates/deployment-worker.yaml").read_text()
    assert '(list "ocs" "worker")' in worker
    for command in (batch, ["ocs", "worker"]):
        assert command[0] == "ocs"
        result = runner.invoke(app, [*command[1:], "--help"])
        assert result.exit_code == 0, result.output


def test_batch_run_without_a_model_fails_with_a_message(runner):
    result = runner.invoke(app, ["batch", "run", "--input", "nowhere.csv"])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
