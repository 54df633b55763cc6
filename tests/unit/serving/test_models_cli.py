"""`ocs models export|import` and the Predictor fetching a pinned version from the registry URI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from serving import cli
from serving.config import get_settings
from serving.scoring import Scorer
from training.registry import Registry, RegistryError

runner = CliRunner()


@pytest.fixture
def env(deployment, tmp_path, monkeypatch):
    monkeypatch.setenv("OCS_STATE_DIR", str(deployment.state_dir))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_export_then_import_into_another_registry(env, deployment, monkeypatch):
    uri = f"file://{env / 'bucket'}"
    out = runner.invoke(cli.app, ["models", "export", deployment.tag, uri])
    assert out.exit_code == 0, out.output
    path = out.stdout.strip()
    assert path.startswith(str(env / "bucket")) and path.endswith(".bentomodel")
    # a serving pod: its own empty registry, the same URI
    monkeypatch.setenv("OCS_STATE_DIR", str(env / "pod"))
    monkeypatch.setenv("OCS_REGISTRY_URI", uri)
    get_settings.cache_clear()
    out = runner.invoke(cli.app, ["models", "import", deployment.tag])
    assert out.exit_code == 0 and f"imported {deployment.tag}" in out.output
    again = runner.invoke(cli.app, ["models", "import", path])  # idempotent
    assert again.exit_code == 0, again.output
    assert [r.tag for r in Registry(env / "pod" / "registry").list()] == [deployment.tag]


def test_scorer_fetches_a_pinned_version_it_lacks(deployment, tmp_path):
    uri = str(tmp_path / "bucket")
    Registry(deployment.state_dir / "registry").export(deployment.tag, uri)
    pod = Registry(tmp_path / "pod")
    scorer = Scorer(pod, deployment.tag, registry_uri=uri)
    assert scorer.record.tag == deployment.tag and len(pod.list()) == 1
    with pytest.raises(RegistryError, match="not in the registry"):
        # never fetched
        Scorer(Registry(tmp_path / "other"), "cancel-predictor:latest", registry_uri=uri)


def test_errors_exit_2(env):
    none = runner.invoke(cli.app, ["models", "export", "latest"])
    assert none.exit_code == 2 and "no registry URI" in none.output
    missing = runner.invoke(cli.app, ["models", "import", str(env / "nope.bentomodel")])
    assert missing.exit_code == 2 and "cannot import" in missing.output
    gcs = runner.invoke(cli.app, ["models", "export", "latest", "gs://bucket/models"])
    assert gcs.exit_code == 2 and "gcsfs" in gcs.output
