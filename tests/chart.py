"""Render the Helm chart with the real helm binary and check manifests against real schemas.

Core kinds go through `kubernetes-validate` (Kubernetes' own OpenAPI schemas); custom resources
through the CRDs in ../shared/schemas/crds (each version's openAPIV3Schema) with jsonschema,
plus a pruning check: a field the CRD does not declare would be dropped silently by the API
server, so it counts as an error here.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.tools import ROOT, find

CHART = ROOT / "helm" / "ocs"
CRDS = ROOT.parent / "shared" / "schemas" / "crds"
KUBERNETES_VERSION = "1.33.0"


def helm() -> str | None:
    return find("helm")


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    binary = helm()
    assert binary, "helm not found: run `make install` (python -m tests.tools)"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)


def template(*values: str, sets: dict[str, Any] | None = None, check: bool = True) -> str:
    """`helm template` output (or its error with check=False); same arguments, one run."""
    code, out = _template(values, tuple((k, str(v)) for k, v in (sets or {}).items()))
    if check:
        assert code == 0, out
    return out


@cache
def _template(values: tuple[str, ...], sets: tuple[tuple[str, str], ...]) -> tuple[int, str]:
    args = ["template", "ocs", str(CHART), "--namespace", "ocs"]
    for f in values:
        args += ["-f", str(CHART / f)]
    for key, value in sets:
        args += ["--set", f"{key}={value}"]
    done = run_helm(*args)
    return done.returncode, done.stdout if done.returncode == 0 else done.stderr


def documents(rendered: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(rendered) if d]


def serve_config(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (rayservice,) = [d for d in docs if d["kind"] == "RayService"]
    config: dict[str, Any] = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    return config


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema, for every served version of every CRD."""
    out = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            out[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return out


def unknown_fields(doc: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields the schema does not declare (the API server would prune them)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    problems = []
    if isinstance(doc, dict) and schema.get("type") == "object":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, value in doc.items():
            if props and key in props:
                problems += unknown_fields(value, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                problems += unknown_fields(value, extra, f"{path}.{key}")
            elif props is not None:
                problems.append(f"{path}.{key}")
    elif isinstance(doc, list) and "items" in schema:
        for i, item in enumerate(doc):
            problems += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return problems


def validate_custom(doc: dict[str, Any]) -> list[str]:
    schema = crd_schemas().get((doc["apiVersion"], doc["kind"]))
    if schema is None:
        return [f"no CRD in {CRDS} for {doc['apiVersion']} {doc['kind']}"]
    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(doc)
    ]
    return errors + [f"{f}: not in the CRD schema" for f in unknown_fields(doc, schema)]


def validate_core(doc: dict[str, Any]) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def values_files() -> list[str]:
    return sorted(str(p.relative_to(CHART)) for p in (CHART / "ci").glob("*.yaml"))


def chart_path() -> Path:
    return CHART
