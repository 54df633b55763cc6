import pytest

from serving.config import ConfigError, Mode, Scope, load_settings
from training.bands import band

HASH = "a" * 64


def test_env_prefix_and_dotenv(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("OCS_PORT=9001\nOCS_MODEL_TAG=cancel-predictor:abc\n")
    monkeypatch.setenv("OCS_RISK_HIGH_THRESHOLD", "0.7")
    s = load_settings(_env_file=".env")
    assert (s.port, s.model_tag, s.risk_high_threshold) == (9001, "cancel-predictor:abc", 0.7)
    assert s.mode is Mode.local and s.registry_path == s.state_dir / "registry"


def test_api_keys_from_json_env(monkeypatch):
    monkeypatch.setenv(
        "OCS_API_KEYS", f'[{{"name": "oms", "sha256": "{HASH}", "scopes": ["predict"]}}]'
    )
    s = load_settings()
    assert s.api_keys[0].scopes == [Scope.predict]


def test_production_refuses_default_secrets_naming_each_variable():
    with pytest.raises(ConfigError) as err:
        load_settings(mode="production")
    for var in ("OCS_API_KEYS", "OCS_DATABASE_URL", "OCS_REDIS_URL"):
        assert var in str(err.value)
    with pytest.raises(ConfigError, match="OCS_DATABASE_URL has a default"):
        load_settings(
            mode="production",
            api_keys=[{"name": "x", "sha256": HASH, "scopes": ["admin"]}],
            database_url="postgresql://ocs:postgres@db/ocs",
            redis_url="redis://r:6379/0",
        )
    ok = load_settings(
        mode="production",
        api_keys=[{"name": "x", "sha256": HASH, "scopes": ["admin"]}],
        database_url="postgresql://ocs:Xk29vq@db/ocs",
        redis_url="redis://r:6379/0",
    )
    assert ok.mode is Mode.production


def test_bad_values_name_the_variable():
    with pytest.raises(ConfigError, match="OCS_PORT"):
        load_settings(port=70000)
    with pytest.raises(ConfigError, match="OCS_RISK_MEDIUM_THRESHOLD must be below"):
        load_settings(risk_medium_threshold=0.8, risk_high_threshold=0.5)


def test_risk_bands_come_from_the_model_unless_overridden():
    model = {"medium": 0.4, "high": 0.7}
    assert load_settings().risk_thresholds(model) == model
    assert load_settings(risk_high_threshold=0.9).risk_thresholds(model) == {
        "medium": 0.4,
        "high": 0.9,
    }
    with pytest.raises(ConfigError, match="set both"):
        load_settings(risk_medium_threshold=0.8).risk_thresholds(model)
    t = load_settings(risk_medium_threshold=0.3, risk_high_threshold=0.6).risk_thresholds(model)
    assert [band(p, t) for p in (0.1, 0.3, 0.59, 0.6, 0.99)] == [
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]


def test_replica_settings_are_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    values = load_settings().for_replicas()
    assert values["registry_dir"] == str(tmp_path / ".ocs" / "registry")
    assert load_settings(**values).registry_path == tmp_path / ".ocs" / "registry"
