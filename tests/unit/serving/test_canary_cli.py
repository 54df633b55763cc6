"""`ocs canary`: the values changes and helm commands, and the admin endpoint's guard."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from serving import cli
from serving.api import create_app
from serving.auth import all_keys
from serving.backends import LocalBackend
from tests import chart
from training.registry import Registry

runner = CliRunner()


def test_set_weight_prints_the_values_change_and_helm_command():
    out = runner.invoke(
        cli.app, ["canary", "set-weight", "25", "--release", "prod", "--namespace", "ml"]
    )
    assert out.exit_code == 0, out.output
    assert "predictor.canary.weight: 25" in out.output
    assert (
        "helm upgrade prod helm/ocs --namespace ml --reuse-values --set predictor.canary.weight=25"
        in out.output
    )
    assert runner.invoke(cli.app, ["canary", "set-weight", "101"]).exit_code == 2


def test_promote_and_rollback_values():
    out = runner.invoke(cli.app, ["canary", "promote", "--tag", "cancel-predictor:v2"])
    assert out.exit_code == 0, out.output
    assert "--set predictor.stable.modelTag=cancel-predictor:v2" in out.output
    assert "--set predictor.canary.enabled=false" in out.output
    back = runner.invoke(cli.app, ["canary", "rollback"])
    assert back.exit_code == 0
    assert "predictor.canary.enabled: false" in back.output and "stable.modelTag" not in back.output


def test_the_printed_values_render_with_the_chart():
    """What promote prints is accepted by the chart (schema and validateValues)."""
    if chart.helm() is None:
        pytest.skip("helm not installed: run `make install`")
    docs = chart.documents(
        chart.template(
            "ci/canary.yaml",
            sets={
                "predictor.stable.modelTag": "cancel-predictor:v2",
                "predictor.canary.enabled": "false",
                "predictor.canary.weight": 0,
                "predictor.canary.shadow": "false",
            },
        )
    )
    app = chart.serve_config(docs)["applications"][0]
    assert app["args"]["model_tag"] == "cancel-predictor:v2"
    assert [d["name"] for d in app["deployments"]] == ["Gateway", "Predictor"]


def test_apply_runs_helm_and_reports_its_failure(monkeypatch, tmp_path):
    """With no cluster here, real helm fails; the CLI says so with helm's own message."""
    helm = chart.helm()
    if helm is None:
        pytest.skip("helm not installed: run `make install`")
    monkeypatch.setenv("PATH", f"{os.path.dirname(helm)}:{os.environ['PATH']}")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.setenv("HELM_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HELM_CONFIG_HOME", str(tmp_path / "config"))
    chart_dir = str(chart.CHART)
    out = runner.invoke(cli.app, ["canary", "set-weight", "10", "--chart", chart_dir, "--apply"])
    assert out.exit_code == 2
    assert "helm upgrade failed" in out.output and "helm command:" in out.output


def test_canary_endpoint_needs_admin_and_ray(deployment):
    settings = deployment.settings()
    backend = LocalBackend(Registry(settings.registry_path), settings.model_tag)
    with TestClient(create_app(backend, settings, all_keys(settings))) as c:
        predict_only = {"Authorization": f"Bearer {deployment.keys['predict']}"}
        assert c.get("/v1/canary", headers=predict_only).status_code == 403
        full = {"Authorization": f"Bearer {deployment.keys['full']}"}
        r = c.get("/v1/canary", headers=full)
        assert r.status_code == 404 and r.json()["error"]["code"] == "canary_not_active"


def test_status_says_when_the_gateway_is_unreachable():
    out = runner.invoke(cli.app, ["canary", "status", "--url", "http://127.0.0.1:9", "--key", "k"])
    assert out.exit_code == 2 and "cannot reach the Gateway" in out.output
