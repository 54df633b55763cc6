"""`ocs train pipeline`: the weekly retraining CronJob (train, gate, register, propose a canary).

Exit codes: 0 the candidate passed and is proposed as a canary, 3 refused by the gate (not
registered; the reason is printed and in the run record), 2 bad input. Every run writes a JSON
record under ``<state_dir>/retrain/`` and pushes ``ocs_retrain_last_run_timestamp_seconds``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from prometheus_client import CollectorRegistry, Gauge

from serving.cli_common import fail, settings
from serving.config import Settings

EXIT_REFUSED = 3
PUSH_JOB = "ocs-retrain"
VALUES_FILE = "canary-values.yaml"


def canary_values(tag: str, weight: int) -> dict[str, Any]:
    """The chart values that deploy ``tag`` as the canary Predictor with ``weight`` percent."""
    return {
        "predictor": {
            "canary": {"enabled": True, "modelTag": tag, "weight": weight, "shadow": False}
        }
    }


def write_proposal(uri: str, tag: str, values: str) -> str:
    """The canary values beside the exported model, where they outlive the CronJob's pod."""
    import fsspec

    name, version = tag.split(":", 1)
    target = f"{uri.rstrip('/')}/proposals/{name}-{version}.canary-values.yaml"
    with fsspec.open(target, "w", auto_mkdir=True) as f:
        f.write(values)
    return target


def retrain_registry(verdict: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge(
        "ocs_retrain_last_run_timestamp_seconds",
        "When the retraining pipeline last finished, by result (promoted|refused)",
        ["result"],
        registry=registry,
    ).labels(verdict).set(time.time())
    return registry


def _data(s: Settings, spec: Any, data: Path | None, from_db: bool) -> tuple[str, Any]:
    from training.loaders import load_dataset

    if data is not None and from_db:
        fail("give one data source: --data PATH or --from-db")
    if data is not None:
        source, df = load_dataset(spec, data, s.data_dir)
        return str(source), df
    if from_db:
        from serving.store_access import open_store

        frame = open_store(s).training_frame(spec)
        if frame.empty:
            fail(
                "the store has no orders with outcomes yet (POST /v1/outcomes records them): "
                "pass --data PATH instead of --from-db"
            )
        return "store:orders-with-outcomes", from_store_labels(frame, spec)
    fail("give the training data: --data PATH (.csv or .parquet) or --from-db (the store)")


def from_store_labels(df: Any, spec: Any) -> Any:
    """The store's label column says 1 for cancelled (the contract); the spec may name another
    positive value (``cancelled`` for dealer_orders): map 1 to it, anything else to negative."""
    column, positive = spec.label.column, spec.label.positive
    if column not in df.columns or positive in (1, True, "1"):
        return df
    out = df.copy()
    hit = out[column].astype(float) == 1.0
    out[column] = [positive if h else f"not_{positive}" for h in hit]
    return out


def _spec(registry: Any, spec: str | None, current: str) -> Any:
    from training.registry import RegistryError
    from training.spec import load_spec

    if spec is not None:
        return load_spec(spec)
    try:
        return registry.load(current).spec
    except RegistryError:
        fail(f"no --spec given and no current model {current!r} to take it from")


def retrain_pipeline(
    data: Annotated[Path | None, typer.Option(help="training data, .csv or .parquet")] = None,
    from_db: Annotated[
        bool, typer.Option("--from-db", help="orders with outcomes from the store")
    ] = False,
    spec: Annotated[str | None, typer.Option(help="default: the current model's spec")] = None,
    current: Annotated[
        str | None, typer.Option(help="production model to beat; default OCS_MODEL_TAG")
    ] = None,
    seed: int = 0,
    epochs: Annotated[int | None, typer.Option(min=1, help="default: from the spec")] = None,
    ensemble: Annotated[int | None, typer.Option(min=1, max=16)] = None,
    holdout_fraction: Annotated[
        float | None, typer.Option(min=0.01, max=0.9, help="default OCS_RETRAIN_HOLDOUT_FRACTION")
    ] = None,
    max_auc_drop: Annotated[
        float | None, typer.Option(min=0, help="default OCS_RETRAIN_MAX_AUC_DROP")
    ] = None,
    max_ece_increase: Annotated[
        float | None, typer.Option(min=0, help="default OCS_RETRAIN_MAX_ECE_INCREASE")
    ] = None,
    canary_weight: Annotated[
        int | None, typer.Option(min=0, max=100, help="default OCS_RETRAIN_CANARY_WEIGHT")
    ] = None,
    values_out: Annotated[
        Path | None,
        typer.Option(help=f"Helm values file; default <state_dir>/retrain/{VALUES_FILE}"),
    ] = None,
    registry_uri: Annotated[
        str | None, typer.Option(help="export the new model here; default OCS_REGISTRY_URI")
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="run `helm upgrade` with the canary values")
    ] = False,
    release: Annotated[str, typer.Option(help="Helm release (--apply)")] = "ocs",
    chart: Annotated[str, typer.Option(help="chart path or reference (--apply)")] = "helm/ocs",
    namespace: Annotated[str, typer.Option(help="Kubernetes namespace (--apply)")] = "ocs",
    shuffle_labels: Annotated[
        bool, typer.Option("--shuffle-labels", help="drill: train on permuted labels")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON line")] = False,
) -> None:
    """Retrain, compare with the production model on the latest data, register and propose it."""
    from serving.canary_cli import _change, helm_upgrade
    from serving.pushgateway import push_metrics
    from training.data import DataError
    from training.features import FeatureError
    from training.registry import Registry, RegistryError
    from training.retrain import GateRule, retrain
    from training.spec import SpecError
    from training.train import TrainParams

    s = settings()
    registry = Registry(s.registry_path)
    current_tag = current or s.model_tag
    try:
        feature_spec = _spec(registry, spec, current_tag)
        source, df = _data(s, feature_spec, data, from_db)
        params = TrainParams.for_spec(feature_spec, seed=seed, epochs=epochs, ensemble=ensemble)
        rule = GateRule(
            max_auc_drop=s.retrain_max_auc_drop if max_auc_drop is None else max_auc_drop,
            max_ece_increase=(
                s.retrain_max_ece_increase if max_ece_increase is None else max_ece_increase
            ),
        )
        run = retrain(
            df,
            feature_spec,
            registry,
            current_tag,
            source,
            params=params,
            rule=rule,
            holdout_fraction=holdout_fraction or s.retrain_holdout_fraction,
            shuffle_labels=shuffle_labels,
            progress=not as_json,
        )
    except (SpecError, DataError, FeatureError) as exc:
        fail(str(exc))
    record: dict[str, Any] = {
        "verdict": run.verdict,
        "tag": run.tag,
        "current": run.current_tag,
        "reasons": run.gate.reasons,
        "candidate": run.gate.candidate,
        "current_metrics": run.gate.current,
        "rule": run.gate.to_dict()["rule"],
        "holdout": {"rows": run.holdout_rows, "from": run.holdout_from},
        "data": source,
        "shuffled_labels": shuffle_labels,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    runs = s.state_dir / "retrain"
    if run.tag is not None:
        weight = s.retrain_canary_weight if canary_weight is None else canary_weight
        values = canary_values(run.tag, weight)
        path = values_out or runs / VALUES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"# proposed by `ocs train pipeline` at {record['finished']}: {run.tag}\n"
        path.write_text(header + yaml.safe_dump(values, sort_keys=False))
        sets = {
            f"predictor.canary.{k}": str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in values["predictor"]["canary"].items()
        }
        record["canary_values"] = str(path)
        record["helm_command"] = helm_upgrade(release, chart, namespace, sets)
        uri = s.registry_uri if registry_uri is None else registry_uri
        if uri:
            try:
                record["exported"] = registry.export(run.tag, uri)
                record["proposal"] = write_proposal(uri, run.tag, path.read_text())
            except (RegistryError, OSError, ImportError) as exc:
                fail(f"{run.tag} is registered here but not exported: {exc}")
    runs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (runs / f"{stamp}-{run.verdict}.json").write_text(json.dumps(record, indent=1))
    record["pushed"] = push_metrics(s.pushgateway_url, retrain_registry(run.verdict), PUSH_JOB)
    if not as_json:
        headline = f"proposed {run.tag} as canary" if run.tag else "refused: not registered"
        typer.echo(
            f"{run.verdict}: {headline} (holdout {run.holdout_rows} rows from "
            f"{run.holdout_from}, current {run.current_tag or 'none'})"
        )
        for reason in run.gate.reasons:
            typer.echo(f"  - {reason}")
        if run.tag:
            typer.echo(f"canary values written to {record['canary_values']}")
            if "exported" in record:
                typer.echo(f"exported to {record['exported']}")
    if run.tag is not None and (apply or not as_json):
        _change(sets, release, chart, namespace, apply)  # prints the change; --apply runs it
    if as_json:
        typer.echo(json.dumps(record))
    if run.tag is None:
        raise typer.Exit(EXIT_REFUSED)
