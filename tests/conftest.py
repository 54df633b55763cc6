"""Shared fixtures: real data, a real model trained in seconds, a real registry with keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from serving.auth import add_key
from serving.config import Scope, Settings, load_settings
from training import synth
from training.pipeline import register
from training.registry import Registry
from training.spec import FeatureSpec, load_spec
from training.train import TrainParams, TrainResult, train

# A developer's .env must not change what the tests check; test_config reads one explicitly.
Settings.model_config["env_file"] = None


@dataclass(frozen=True)
class Deployment:
    """A state directory holding a registered model and API keys, as `ocs serve` would use."""

    state_dir: Path
    tag: str
    keys: dict[str, str]

    def settings(self, **overrides: object) -> Settings:
        return load_settings(state_dir=self.state_dir, **overrides)


@pytest.fixture(scope="session")
def spec() -> FeatureSpec:
    return load_spec("dealer_orders")


@pytest.fixture(scope="session")
def orders_df() -> pd.DataFrame:
    return synth.generate(6000, seed=3)


@pytest.fixture(scope="session")
def trained(orders_df: pd.DataFrame, spec: FeatureSpec) -> TrainResult:
    return train(orders_df, spec, TrainParams(epochs=8, patience=3), progress=False)


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory, trained: TrainResult) -> Deployment:
    state = tmp_path_factory.mktemp("ocs-state")
    tag = register(trained, Registry(state / "registry"), source="tests")
    keys_file = state / "api_keys.json"
    keys = {
        "full": add_key(keys_file, "full", list(Scope)),
        "predict": add_key(keys_file, "predict-only", [Scope.predict]),
        "emails": add_key(keys_file, "emails-only", [Scope.emails]),
    }
    return Deployment(state, tag, keys)


@pytest.fixture
def registry_copy(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A state directory with a copy of the session's registry, serving the session's model,
    for tests that register models of their own (the CLI reads it from OCS_*)."""
    import shutil

    from serving.config import get_settings

    state = tmp_path / "state"
    shutil.copytree(deployment.state_dir / "registry", state / "registry")
    monkeypatch.setenv("OCS_STATE_DIR", str(state))
    monkeypatch.setenv("OCS_MODEL_TAG", deployment.tag)
    get_settings.cache_clear()
    yield state
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _no_ocs_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's OCS_* variables must not change what the tests check."""
    import os

    for name in list(os.environ):
        if name.startswith("OCS_"):
            monkeypatch.delenv(name)
