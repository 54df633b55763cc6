"""Prometheus rules rendered from the chart (the one source), and Debian's promtool/prometheus.

`python -m tests.prom OUT.yaml [VALUES.yaml ...]` writes the plain rules file that the chart's
PrometheusRule carries, for `promtool` or a Prometheus without the operator.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests import chart

RULES_SOURCE = chart.CHART / "files" / "rules.yaml"
INSTALL_HINT = "apt-get install -y prometheus (Debian package; .ci/run installs it)"


def promtool() -> str | None:
    return shutil.which("promtool")


def prometheus() -> str | None:
    return shutil.which("prometheus")


def rule_groups(*values: str, sets: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """spec.groups of the PrometheusRule that `helm template` renders (values: files)."""
    enabled = {"monitoring.prometheusRule.enabled": "true", **(sets or {})}
    docs = chart.documents(chart.template(*values, sets=enabled))
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def write_rules(path: Path, *values: str) -> Path:
    path.write_text(yaml.safe_dump({"groups": rule_groups(*values)}, sort_keys=False))
    return path


def rules(groups: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Rules by name: key is "alert" or "record"."""
    return {r[key]: r for g in groups for r in g["rules"] if key in r}


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = promtool()
    assert tool, INSTALL_HINT
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def _absolute(path: str) -> str:
    return str(Path(path).resolve())


if __name__ == "__main__":
    out, *files = sys.argv[1:] or ["-"]
    text = yaml.safe_dump({"groups": rule_groups(*map(_absolute, files))}, sort_keys=False)
    if out == "-":
        sys.stdout.write(text)
    else:
        Path(out).write_text(text)
