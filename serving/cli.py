"""The `ocs` command line."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from serving.batch_cli import batch_app
from serving.canary_cli import canary_app
from serving.cli_common import fail, settings
from serving.config import ConfigError, Mode, Scope, Settings
from serving.db_cli import db_app
from serving.drift_cli import drift_app
from serving.metrics_cli import metrics_app
from serving.models_cli import models_export, models_import
from serving.prompts_cli import prompts_app
from serving.retrain_cli import retrain_pipeline
from serving.worker_cli import worker_app

app = typer.Typer(help="Order Cancellation System", no_args_is_help=True, add_completion=False)
data_app = typer.Typer(help="Data sets", no_args_is_help=True)
models_app = typer.Typer(help="The model registry", no_args_is_help=True)
keys_app = typer.Typer(help="API keys", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(canary_app, name="canary")
app.add_typer(prompts_app, name="prompts")
app.add_typer(metrics_app, name="metrics")
app.add_typer(drift_app, name="drift")
models_app.command("export")(models_export)
models_app.command("import")(models_import)
app.add_typer(db_app, name="db")  # issue 5
app.add_typer(batch_app, name="batch")  # issue 5
app.add_typer(worker_app, name="worker")  # issue 5


def _registry(s: Settings) -> Any:
    from training.registry import Registry

    return Registry(s.registry_path)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN becomes null so `--json` output always parses."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@data_app.command("synth")
def data_synth(
    out: Annotated[Path, typer.Option(help="output .csv or .parquet")],
    rows: Annotated[int, typer.Option(min=1)] = 50_000,
    seed: int = 0,
    drift: Annotated[
        str | None, typer.Option(help="delivery_shock|price_increase|new_region")
    ] = None,
) -> None:
    """Write synthetic dealer orders and print the sample's Bayes-optimal accuracy."""
    from training import synth

    try:
        df = synth.generate(rows, seed=seed, drift=drift)
        synth.write(df, out)
    except ValueError as exc:
        fail(str(exc))
    rate = float((df["outcome"] == "cancelled").mean())
    typer.echo(f"wrote {len(df)} orders to {out} (cancellation rate {rate:.3f})")
    typer.echo(f"bayes_optimal_accuracy {synth.bayes_accuracy(df):.4f}")


TABLE_COLUMNS = ["roc_auc", "accuracy", "log_loss", "brier", "ece"]


def _print_table(title: str, rows: dict[str, dict[str, float]], columns: list[str]) -> None:
    width = max(len(r) for r in rows) + 2
    typer.echo(title)
    typer.echo(f"{'':<{width}}" + "".join(f"{c:>20}" for c in columns))
    for name, values in rows.items():
        cells = "".join(f"{values.get(c, float('nan')):>20.4f}" for c in columns)
        typer.echo(f"{name:<{width}}{cells}")


train_app = typer.Typer(
    help="Train a model on a data set and register it; `ocs train pipeline` retrains with a gate",
    invoke_without_command=True,
)
app.add_typer(train_app, name="train")
train_app.command("pipeline")(retrain_pipeline)


@train_app.callback()
def train(
    ctx: typer.Context,
    spec: Annotated[
        str | None, typer.Option(help="shipped spec name or path to a YAML spec (required)")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help=".csv or .parquet; default: the spec's data_file in OCS_DATA_DIR"),
    ] = None,
    seed: int = 0,
    epochs: Annotated[int | None, typer.Option(min=1, help="default: from the spec")] = None,
    ensemble: Annotated[int | None, typer.Option(min=1, max=16, help="networks averaged")] = None,
    baselines: Annotated[
        bool, typer.Option("--baselines", help="also fit LR, HistGB and LightGBM; one table")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="write an HTML report here; saved with the model too")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON line")] = False,
) -> None:
    """Train a model on a data set and register it."""
    if ctx.invoked_subcommand is not None:
        return  # `ocs train pipeline ...`: its own options
    if spec is None:
        fail("missing option --spec (a shipped spec name or a YAML path); see `ocs train --help`")
    from training.data import DataError
    from training.features import FeatureError
    from training.loaders import load_dataset
    from training.pipeline import train_and_register
    from training.spec import SpecError, load_spec
    from training.train import TrainParams

    s = settings()
    try:
        feature_spec = load_spec(spec)
        source, df = load_dataset(feature_spec, data, s.data_dir)
        params = TrainParams.for_spec(feature_spec, seed=seed, epochs=epochs, ensemble=ensemble)
        run = train_and_register(
            df,
            feature_spec,
            _registry(s),
            source=str(source),
            params=params,
            progress=not as_json,
            baselines=baselines,
            report_dir=report,
        )
    except (SpecError, DataError, FeatureError) as exc:
        fail(str(exc))
    result = run.result
    if as_json:
        line = {
            "tag": run.tag,
            "protocol": feature_spec.protocol,
            "metrics": result.metrics,
            "split": result.split_kind,
            "risk_bands": result.artifact.bands,
            "temperature": result.artifact.calibrator.temperature,
            "baselines": run.comparison,
            "report": str(run.report) if run.report else None,
        }
        typer.echo(json.dumps(_clean(line)))
        return
    typer.echo(f"registered {run.tag}  ({result.split_kind} split, best epoch {result.best_epoch})")
    extra: list[str] = [
        k for k in ("bayes_accuracy", "accuracy_vs_bayes") if k in result.metrics["test"]
    ]
    _print_table("network (calibrated)", result.metrics, TABLE_COLUMNS + extra)
    if run.comparison:
        protocol = feature_spec.protocol or feature_spec.name
        columns = [*TABLE_COLUMNS, "fit_seconds", "predict_ms_per_1000"]
        _print_table(f"test split, {protocol}", run.comparison, columns)
    typer.echo(f"risk bands {result.artifact.bands}")
    if run.report:
        typer.echo(f"report {run.report}")


@models_app.command("list")
def models_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Registered models, newest first."""
    rows = [r.summary() for r in _registry(settings()).list()]
    if as_json:
        typer.echo(json.dumps(_clean(rows)))
        return
    if not rows:
        typer.echo("no models yet: run `ocs train` (or `make run`, which trains a demo model)")
        return
    typer.echo(f"{'tag':<36}{'created':<27}{'spec':<18}{'test auc':>9}{'test acc':>9}")
    for r in rows:
        auc, acc = r["test_roc_auc"] or float("nan"), r["test_accuracy"] or float("nan")
        typer.echo(f"{r['tag']:<36}{r['created']:<27}{r['spec']:<18}{auc:>9.4f}{acc:>9.4f}")


@models_app.command("show")
def models_show(
    tag: Annotated[str, typer.Argument(help="TAG, VERSION or latest")] = "latest",
) -> None:
    """Everything the registry knows about one model, as JSON."""
    from training.registry import RegistryError

    try:
        record = _registry(settings()).record(tag)
    except RegistryError as exc:
        fail(str(exc))
    out = {
        "tag": record.tag,
        "created": record.created.isoformat(timespec="seconds"),
        "path": str(record.path),
        "labels": record.labels,
        **record.metadata,
    }
    if "report" in record.metadata:
        out["report"] = str(record.path / record.metadata["report"])
    typer.echo(json.dumps(_clean(out), indent=2, default=str))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="who uses the key, e.g. oms")],
    scopes: Annotated[str, typer.Option(help="comma-separated: predict,emails,admin")] = "predict",
) -> None:
    """Create an API key. Local mode stores its hash in the key file; prints the key once."""
    from serving.auth import add_key, digest, new_key

    try:
        chosen = [Scope(x.strip()) for x in scopes.split(",") if x.strip()]
    except ValueError:
        fail(f"scopes must be among {[s.value for s in Scope]}, got {scopes!r}")
    s = settings()
    if s.mode is Mode.local:
        key = add_key(s.api_keys_path, name, chosen)
        typer.echo(f"added key {name!r} to {s.api_keys_path}")
    else:
        key = new_key()
        entry = {"name": name, "sha256": digest(key), "scopes": [c.value for c in chosen]}
        typer.echo(f"add to OCS_API_KEYS (a JSON list): {json.dumps(entry)}")
    typer.echo(f"key (shown once): {key}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: OCS_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: OCS_PORT")] = None,
) -> None:
    """Serve the API with Ray Serve; trains a demo model first when the registry is empty."""
    from serving.auth import LOCAL_KEY_FILE, ensure_local_key
    from serving.server import run_forever
    from training.pipeline import ensure_demo_model
    from training.registry import RegistryError

    s = settings()
    registry = _registry(s)
    if s.mode is Mode.local:
        if not registry.list():
            typer.echo("registry is empty: training the demo model on synthetic orders ...")
        demo = ensure_demo_model(registry)
        if demo:
            typer.echo(f"registered {demo}")
        key = ensure_local_key(s)
        if key:
            typer.echo(f"created a local API key (saved in {s.state_dir / LOCAL_KEY_FILE}): {key}")
    try:
        registry.record(s.model_tag)
    except RegistryError as exc:
        fail(str(exc))
    _check_store(s)  # issue 5: a schema behind refuses to start, naming `ocs db upgrade`
    host, port = host or s.host, port or s.port
    typer.echo(f"serving {s.model_tag} on http://{host}:{port} (docs at /docs); Ctrl-C stops")
    run_forever(s, host, port)


def _check_store(s: Settings) -> None:
    from serving.store.migrate import StoreError
    from serving.store.store import Store

    try:
        Store.from_settings(s).close()
    except StoreError as exc:
        fail(str(exc))


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
