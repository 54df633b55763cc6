"""The metrics catalog (docs/metrics.md), the metrics the code registers, and PromQL names."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "docs" / "metrics.md"
SOURCES = ("serving", "training")
KINDS = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary"}
# series a histogram or summary exposes besides its name
SUFFIXES = ("_bucket", "_count", "_sum", "_created")


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    labels: tuple[str, ...]
    where: str


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def catalog(text: str | None = None) -> dict[str, Metric]:
    """Metric rows of the catalog's tables: | `name` | type | labels | where | meaning |."""
    out: dict[str, Metric] = {}
    for line in (text if text is not None else CATALOG.read_text()).splitlines():
        if not line.startswith("| `ocs_"):
            continue
        name, kind, labels, where, *_ = _cells(line)
        name = name.strip("`")
        assert name not in out, f"{name} listed twice in {CATALOG.name}"
        out[name] = Metric(name, kind, tuple(sorted(filter(None, labels.split(", ")))), where)
    return out


def recording_rules_listed(text: str | None = None) -> set[str]:
    """Rows of the recording-rule table: | `level:metric:ops` | meaning |."""
    text = text if text is not None else CATALOG.read_text()
    return {
        _cells(line)[0].strip("`")
        for line in text.splitlines()
        if line.startswith("| `") and ":" in _cells(line)[0]
    }


def _labels(call: ast.Call) -> tuple[str, ...] | None:
    node = call.args[2] if len(call.args) > 2 else None
    for kw in call.keywords:
        if kw.arg == "labelnames":
            node = kw.value
    if node is None:
        return ()
    if isinstance(node, ast.List | ast.Tuple) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return tuple(sorted(e.value for e in node.elts))  # type: ignore[attr-defined]
    return None  # computed label names: the test reports them


def code_metrics(root: Path = ROOT) -> dict[str, Metric]:
    """Every prometheus_client metric constructed with a literal name under serving/, training/."""
    out: dict[str, Metric] = {}
    for package in SOURCES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                func = node.func
                kind = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                first = node.args[0]
                if kind not in KINDS or not isinstance(first, ast.Constant):
                    continue
                if not isinstance(first.value, str):
                    continue
                labels = _labels(node)
                where = f"{path.relative_to(root)}:{node.lineno}"
                assert labels is not None, f"{where}: label names must be a literal list"
                assert first.value not in out, f"{first.value} registered twice ({where})"
                out[first.value] = Metric(first.value, KINDS[kind], labels, where)
    return out


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_NAME = re.compile(r"(?<![\w:])([a-zA-Z_:][\w:]*)")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}


def promql_names(expr: str) -> set[str]:
    """Metric and recording-rule names a PromQL expression reads (ocs_* or level:metric:ops)."""
    bare = _QUOTED.sub('""', expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)  # label matchers
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # ranges
    names = set()
    for token in _NAME.findall(bare):
        if token in _KEYWORDS:
            continue
        if token.startswith("ocs_") or token.count(":") >= 2:
            names.add(token)
    return names


def base_name(series: str, known: set[str]) -> str:
    """The catalog name behind a series: ocs_x_bucket -> ocs_x when ocs_x is known."""
    if series in known:
        return series
    for suffix in SUFFIXES:
        if series.endswith(suffix) and series[: -len(suffix)] in known:
            return series[: -len(suffix)]
    return series
