"""`ocs drift check`: feature, score and accuracy drift of a sample against the model's reference.

Exit codes, for a CronJob and for scripts: 0 no drift, 3 drift, 4 too few rows to judge,
2 bad input. Metrics go to the Pushgateway when ``OCS_PUSHGATEWAY_URL`` is set.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from prometheus_client import CollectorRegistry, Gauge

from serving.cli_common import fail, settings
from serving.config import Settings

drift_app = typer.Typer(help="Data and score drift of a model", no_args_is_help=True)

EXIT_DRIFT = 3
EXIT_INSUFFICIENT = 4
PUSH_JOB = "ocs-drift-check"


def drift_registry(result: Any, model_version: str) -> CollectorRegistry:
    """The check's figures as Prometheus gauges (names in docs/metrics.md)."""
    registry = CollectorRegistry()
    if result.sufficient:
        features = Gauge(
            "ocs_feature_drift_score",
            "Drift of one feature against the model's training reference (PSI or JS distance)",
            ["model_version", "feature", "method"],
            registry=registry,
        )
        for f in result.features:
            features.labels(model_version, f.feature, f.method).set(f.value)
        Gauge(
            "ocs_score_drift_psi",
            "PSI of the calibrated scores against the model's test-split scores",
            ["model_version"],
            registry=registry,
        ).labels(model_version).set(result.score.value)
        Gauge(
            "ocs_estimated_accuracy",
            "Label-free expected accuracy from calibrated probabilities (CBPE)",
            ["model_version"],
            registry=registry,
        ).labels(model_version).set(result.estimated_accuracy)
        Gauge(
            "ocs_drift_check_last_success_timestamp_seconds",
            "When a drift check last judged a sample",
            registry=registry,
        ).set(time.time())
    return registry


def _reference(artifact: Any, tag: str, reference: Path | None, data_dir: Path) -> Any:
    from training.drift import reference_stats
    from training.loaders import load_dataset

    if reference is not None:
        _, ref_df = load_dataset(artifact.spec, reference, data_dir)
        return reference_stats(ref_df, artifact.spec, artifact.predict_frame(ref_df))
    if artifact.reference is None:
        fail(
            f"model {tag} has no drift reference statistics (trained before they were saved): "
            "pass --reference PATH with its training data, or retrain it"
        )
    return artifact.reference


def _sample(s: Settings, spec: Any, data: Path | None, from_db: bool) -> tuple[str, Any]:
    from training.loaders import load_dataset

    if data is not None:
        source, df = load_dataset(spec, data, s.data_dir)
        return str(source), df
    if from_db:
        from serving.store_access import open_store

        store = open_store(s)
        days = s.drift_window_days
        recent = store.recent_orders(spec, days)
        if recent.empty:
            fail(
                f"the store has no orders scored in the last {days:g} days (OCS_DRIFT_WINDOW_DAYS)"
            )
        return f"store:orders-scored-in-{days:g}-days", recent
    fail("give the orders to check: --data PATH (.csv or .parquet) or --from-db")


@drift_app.command("check")
def check(
    model: Annotated[str | None, typer.Option(help="model TAG; default OCS_MODEL_TAG")] = None,
    data: Annotated[Path | None, typer.Option(help="recent orders, .csv or .parquet")] = None,
    from_db: Annotated[
        bool, typer.Option("--from-db", help="recent orders from the store")
    ] = False,
    reference: Annotated[
        Path | None, typer.Option(help="reference data for models saved without statistics")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="write the HTML report here")] = None,
    ignore: Annotated[list[str] | None, typer.Option(help="feature not to compare")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON line")] = False,
) -> None:
    """Compare recent orders with the model's training reference; exit 0 ok, 3 drift, 4 too few."""
    from serving.pushgateway import push_metrics
    from training.data import DataError
    from training.drift import DriftError, Thresholds
    from training.drift import check as run_check
    from training.drift_report import write_drift_report
    from training.features import FeatureError
    from training.registry import Registry, RegistryError

    s = settings()
    tag = model or s.model_tag
    try:
        record, artifact = Registry(s.registry_path).open(tag)
        ref = _reference(artifact, record.tag, reference, s.data_dir)
        source, df = _sample(s, artifact.spec, data, from_db)
        thresholds = Thresholds(
            psi=s.drift_psi_threshold,
            js=s.drift_js_threshold,
            score_psi=s.drift_score_psi_threshold,
            max_accuracy_drop=s.drift_max_accuracy_drop,
            min_rows=s.drift_min_rows,
        )
        result = run_check(
            ref,
            artifact.spec,
            df,
            artifact.predict_frame(df),
            thresholds,
            model_tag=record.tag,
            ignore=ignore or (),
        )
    except (RegistryError, DataError, FeatureError, DriftError) as exc:
        fail(str(exc))
    path = write_drift_report(report, result, {"data": source}) if report else None
    pushed = push_metrics(s.pushgateway_url, drift_registry(result, record.version), PUSH_JOB)
    out = {**result.to_dict(), "data": source, "report": str(path) if path else None}
    out["pushed"] = pushed
    if as_json:
        typer.echo(json.dumps(out))
    else:
        typer.echo(f"{result.status}: {record.tag} on {len(df)} orders from {source}")
        if not result.sufficient:
            typer.echo(f"  {len(df)} rows < OCS_DRIFT_MIN_ROWS={s.drift_min_rows}: not judged")
        for alarm in result.alarms:
            typer.echo(f"  - {alarm}")
        typer.echo(
            f"  estimated accuracy {result.estimated_accuracy:.4f} "
            f"(reference {result.reference_accuracy:.4f}), score PSI {result.score.value:.4f}"
        )
        if path:
            typer.echo(f"  report {path}")
    if result.status == "drift":
        raise typer.Exit(EXIT_DRIFT)
    if result.status == "insufficient_data":
        raise typer.Exit(EXIT_INSUFFICIENT)
