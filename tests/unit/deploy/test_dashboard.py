"""The Grafana dashboard ConfigMap: sidecar label, valid JSON, only catalogued metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests import catalog, chart, prom

pytestmark = pytest.mark.skipif(
    chart.helm() is None, reason="helm not installed: run `make install` (python -m tests.tools)"
)
ENABLED = {"monitoring.grafanaDashboard.enabled": "true"}


def _configmap(sets: dict[str, str]) -> dict[str, Any]:
    docs = chart.documents(chart.template(sets=sets))
    (cm,) = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")
    ]
    return cm


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_configmap(ENABLED)["data"]["ocs.json"])
    return loaded


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_configmap_has_the_sidecar_label_and_it_is_configurable():
    cm = _configmap(ENABLED)
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    other = _configmap(
        {
            **ENABLED,
            "monitoring.grafanaDashboard.labels.grafana_dashboard": "null",
            "monitoring.grafanaDashboard.labels.team": "ml",
        }
    )
    assert other["metadata"]["labels"]["team"] == "ml"
    assert "grafana_dashboard" not in other["metadata"]["labels"]
    off = chart.documents(chart.template())
    assert not [d for d in off if d["metadata"]["name"].endswith("-dashboard")]


def test_every_panel_queries_only_catalog_metrics_and_recording_rules(dashboard):
    listed = set(catalog.catalog())
    recorded = set(prom.rules(prom.rule_groups(), "record"))
    problems = []
    for panel in _panels(dashboard):
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            names = catalog.promql_names(target["expr"])
            assert names, f"{panel['title']!r}: {target['expr']} reads no ocs metric"
            for name in names:
                if catalog.base_name(name, listed) not in listed | recorded:
                    problems.append(f"{panel['title']!r}: {name}")
    assert not problems, "panels query metrics missing from docs/metrics.md:\n" + "\n".join(
        problems
    )


def test_every_catalog_metric_is_on_the_dashboard(dashboard):
    """Directly or through a recording rule: nothing measured is left unseen."""
    listed = set(catalog.catalog())
    groups = prom.rule_groups()
    recorded = {
        name: catalog.promql_names(r["expr"]) for name, r in prom.rules(groups, "record").items()
    }
    shown: set[str] = set()
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            for name in catalog.promql_names(target["expr"]):
                shown |= recorded.get(name, {name})
    shown = {catalog.base_name(n, listed) for n in shown}
    assert listed - shown == set()


def test_panels_have_unique_ids_positions_and_the_datasource_variable(dashboard):
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert len({(p["gridPos"]["x"], p["gridPos"]["y"]) for p in panels}) == len(panels)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    for panel in _panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}"
    assert dashboard["uid"] == "ocs-overview"
