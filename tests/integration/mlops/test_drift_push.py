"""`ocs drift check` pushes its figures to a real Pushgateway, for Prometheus to scrape."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from serving import cli
from serving.config import get_settings
from training import synth

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_drift_check_pushes_metrics(pushgateway, deployment, monkeypatch, tmp_path):
    monkeypatch.setenv("OCS_STATE_DIR", str(deployment.state_dir))
    monkeypatch.setenv("OCS_PUSHGATEWAY_URL", pushgateway)
    get_settings.cache_clear()
    data = tmp_path / "region.parquet"
    synth.write(synth.generate(3000, seed=8, drift="new_region"), data)
    try:
        out = runner.invoke(
            cli.app, ["drift", "check", "--model", deployment.tag, "--data", str(data), "--json"]
        )
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 3, out.output
    assert json.loads(out.stdout)["pushed"] is True
    scraped = httpx.get(f"{pushgateway}/metrics").text
    version = deployment.tag.split(":")[1]
    region = next(
        line
        for line in scraped.splitlines()
        if line.startswith("ocs_feature_drift_score{") and 'feature="region"' in line
    )
    assert 'job="ocs-drift-check"' in region and f'model_version="{version}"' in region
    assert float(region.rsplit(" ", 1)[1]) > 0.1
    assert "ocs_drift_check_last_success_timestamp_seconds{" in scraped
