"""Model registry on the BentoML model store: ``cancel-predictor:<version>`` with metadata."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# BentoML reports usage over the network by default; this system never phones home.
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")

import bentoml
from bentoml._internal.models.model import ModelStore
from bentoml.exceptions import NotFound

from training.artifact import ModelArtifact

MODEL_NAME = "cancel-predictor"
REPORT_DIR = "report"
EXPORT_SUFFIX = ".bentomodel"


class RegistryError(LookupError):
    """A tag that isn't in the registry, or a registry that can't be opened."""


@dataclass(frozen=True)
class ModelRecord:
    tag: str
    version: str
    created: datetime
    path: Path
    labels: dict[str, str]
    metadata: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        test = self.metadata.get("metrics", {}).get("test", {})
        return {
            "tag": self.tag,
            "created": self.created.isoformat(timespec="seconds"),
            "spec": self.labels.get("spec", ""),
            "test_roc_auc": test.get("roc_auc"),
            "test_accuracy": test.get("accuracy"),
        }


def code_version() -> str:
    """The git commit of the training code, or the package version outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("order-cancellation-system")
        except PackageNotFoundError:
            return "unknown"


class Registry:
    def __init__(self, path: Path):
        self.path = Path(path).resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        self._store = ModelStore(str(self.path))

    def save(
        self,
        artifact: ModelArtifact,
        metadata: dict[str, Any],
        labels: dict[str, str] | None = None,
        attachments: Path | None = None,
    ) -> str:
        """Store the artifact as a new version; returns its full tag.

        ``attachments``: a folder (the training report) copied into the model as ``report/``.
        """
        meta = {"code_version": code_version(), **metadata}
        labels = {"spec": artifact.spec.name, "stage": "candidate", **(labels or {})}
        with bentoml.models.create(
            MODEL_NAME, labels=labels, metadata=meta, _model_store=self._store
        ) as model:
            artifact.save(Path(model.path))
            if attachments is not None:
                shutil.copytree(attachments, Path(model.path) / REPORT_DIR)
            tag = str(model.tag)
        artifact.tag = tag
        return tag

    def _get(self, tag: str) -> Any:
        full = tag if ":" in tag else f"{MODEL_NAME}:{tag}"
        try:
            return self._store.get(full)
        except NotFound:
            raise RegistryError(
                f"model {full!r} is not in the registry at {self.path}; "
                "train one with `ocs train` or list them with `ocs models list`"
            ) from None

    @staticmethod
    def _record(model: Any) -> ModelRecord:
        return ModelRecord(
            tag=str(model.tag),
            version=str(model.tag.version),
            created=model.creation_time,
            path=Path(model.path),
            labels=dict(model.info.labels),
            metadata=dict(model.info.metadata),
        )

    def record(self, tag: str = "latest") -> ModelRecord:
        return self._record(self._get(tag))

    def open(self, tag: str = "latest") -> tuple[ModelRecord, ModelArtifact]:
        """The record and the loaded artifact of one version, resolved once."""
        record = self.record(tag)
        artifact = ModelArtifact.load(record.path)
        artifact.tag = record.tag
        return record, artifact

    def load(self, tag: str = "latest") -> ModelArtifact:
        return self.open(tag)[1]

    def list(self) -> list[ModelRecord]:
        models = [self._record(m) for m in self._store.list() if m.tag.name == MODEL_NAME]
        return sorted(models, key=lambda r: r.created, reverse=True)

    # --- moving models between pods through a registry URI (issue 7) ---

    def export(self, tag: str, uri: str) -> str:
        """Write one version to ``uri`` (a folder, ``file://``, ``gs://`` ...); returns its path.

        The file is ``<uri>/<name>-<version>.bentomodel``: BentoML's own archive, written
        through fsspec, so ``gs://`` needs the ``gcs`` extra (gcsfs) and nothing else.
        """
        model = self._get(tag)
        target = export_path(uri, str(model.tag))
        if "://" not in target or target.startswith("file://"):
            Path(target.removeprefix("file://")).parent.mkdir(parents=True, exist_ok=True)
        try:
            out: str = bentoml.models.export_model(model.tag, target, _model_store=self._store)
        except (ImportError, ValueError, OSError) as exc:
            raise RegistryError(f"cannot export {model.tag} to {target}: {exc}") from exc
        return out

    def import_(self, source: str) -> str:
        """Add a ``.bentomodel`` file (local or remote) to this registry; returns the tag.

        A version that is here already is left as it is (imports are idempotent).
        """
        try:
            model = bentoml.models.import_model(source, _model_store=self._store)
        except bentoml.exceptions.BentoMLException as exc:
            if "already exists" in str(exc):
                return _tag_of_export(source)
            raise RegistryError(f"cannot import {source}: {exc}") from exc
        except (ImportError, ValueError, OSError) as exc:
            raise RegistryError(f"cannot import {source}: {exc}") from exc
        return str(model.tag)

    def ensure(self, tag: str, uri: str) -> None:
        """Import ``tag`` from the registry URI when this registry lacks it (a serving pod).

        Only pinned versions travel: ``latest`` means this registry's newest model.
        """
        full = tag if ":" in tag else f"{MODEL_NAME}:{tag}"
        if not uri or full.endswith(":latest"):
            return
        try:
            self._store.get(full)
        except NotFound:
            self.import_(export_path(uri, full))


def export_path(uri: str, tag: str) -> str:
    """Where ``tag`` lives under a registry URI."""
    name, version = tag.split(":", 1)
    return f"{uri.rstrip('/')}/{name}-{version}{EXPORT_SUFFIX}"


def _tag_of_export(source: str) -> str:
    stem = source.rstrip("/").rsplit("/", 1)[-1].removesuffix(EXPORT_SUFFIX)
    name, _, version = stem.rpartition("-")
    return f"{name}:{version}"
