"""`ocs models export|import`: move model versions between registries through a registry URI.

The retraining pod exports each model it registers (`ocs train pipeline` with
``OCS_REGISTRY_URI``); a Predictor that lacks a pinned version imports it from there on start.
These commands do the same by hand: ``gs://BUCKET/models`` on GKE (the ``gcs`` extra), a folder
or ``file://`` path here.
"""

from __future__ import annotations

from typing import Annotated

import typer

from serving.cli_common import fail, settings


def models_export(
    tag: Annotated[str, typer.Argument(help="TAG, VERSION or latest")],
    uri: Annotated[str | None, typer.Argument(help="default OCS_REGISTRY_URI")] = None,
) -> None:
    """Write one model version to a registry URI as a .bentomodel file."""
    from training.registry import Registry, RegistryError

    s = settings()
    target = uri or s.registry_uri
    if not target:
        fail("no registry URI: pass one (gs://BUCKET/models, a folder) or set OCS_REGISTRY_URI")
    try:
        path = Registry(s.registry_path).export(tag, target)
    except RegistryError as exc:
        fail(str(exc))
    typer.echo(path)


def models_import(
    source: Annotated[str, typer.Argument(help=".bentomodel path or URL, or a TAG to fetch")],
) -> None:
    """Add a model version to this registry: a .bentomodel path, or a TAG from OCS_REGISTRY_URI."""
    from training.registry import EXPORT_SUFFIX, Registry, RegistryError, export_path

    s = settings()
    if not source.endswith(EXPORT_SUFFIX):
        if not s.registry_uri or ":" not in source:
            fail(f"{source!r} is no {EXPORT_SUFFIX} file; a NAME:VERSION needs OCS_REGISTRY_URI")
        source = export_path(s.registry_uri, source)
    try:
        tag = Registry(s.registry_path).import_(source)
    except RegistryError as exc:
        fail(str(exc))
    typer.echo(f"imported {tag}")
