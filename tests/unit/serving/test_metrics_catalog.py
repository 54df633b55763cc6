"""docs/metrics.md against the code, both ways, and the rules against the catalog."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from serving.canary_backend import CanaryMetrics
from serving.email.metrics import EmailMetrics, LlmMetrics
from serving.metrics import Metrics, ModelMetrics
from tests import catalog, chart, prom

PLANNED = "planned:"


@pytest.fixture(scope="module")
def listed() -> dict[str, catalog.Metric]:
    return catalog.catalog()


@pytest.fixture(scope="module")
def registered() -> dict[str, catalog.Metric]:
    return catalog.code_metrics()


def test_every_registered_metric_is_listed_with_its_type_and_labels(listed, registered):
    problems = []
    for name, m in registered.items():
        entry = listed.get(name)
        if entry is None:
            problems.append(f"{name} ({m.where}) is not in docs/metrics.md")
        elif (entry.kind, entry.labels) != (m.kind, m.labels):
            docs, code = f"{entry.kind} {entry.labels}", f"{m.kind} {m.labels}"
            problems.append(f"{name}: docs say {docs}, code ({m.where}) {code}")
    assert not problems, "\n".join(problems)


def test_every_listed_metric_is_registered_or_planned(listed, registered):
    missing = [n for n, e in listed.items() if n not in registered and PLANNED not in e.where]
    assert not missing, f"listed but registered nowhere (mark them planned: or remove): {missing}"
    landed = [n for n, e in listed.items() if n in registered and PLANNED in e.where]
    assert not landed, f"registered in code now, drop their `planned:` notes: {landed}"


def test_the_issue_s_metrics_are_all_listed(listed):
    wanted = {
        "ocs_http_requests_total",
        "ocs_http_request_duration_seconds",
        "ocs_predictions_total",
        "ocs_emails_total",
        "ocs_email_guardrail_failures_total",
        "ocs_email_tokens_total",
        "ocs_llm_request_duration_seconds",
        "ocs_email_cache_requests_total",
        "ocs_queue_depth",
        "ocs_queue_lag_seconds",
        "ocs_queue_dead_letters_total",
        "ocs_batch_last_success_timestamp_seconds",
        "ocs_batch_rows_total",
        "ocs_realized_accuracy",
        "ocs_estimated_accuracy",
        "ocs_feature_drift_score",
    }
    assert wanted <= set(listed)
    assert all(n.startswith("ocs_") for n in listed)


def test_the_scan_finds_what_the_classes_register(registered):
    """The AST scan is not blind: it sees every metric the metric classes really create."""
    registry = CollectorRegistry()
    metrics = Metrics()
    CanaryMetrics(metrics)
    EmailMetrics(metrics.registry)
    ModelMetrics(registry)
    LlmMetrics(registry)
    created = {
        m.name
        for r in (metrics.registry, registry)
        for m in r.collect()  # counters drop _total in collect(); the scan keeps it
    }
    names = {n.removesuffix("_total") for n in registered}
    assert created <= names
    assert len(created) >= 15


def test_catalog_parser_reads_planned_rows():
    text = (
        "| `ocs_a_total` | counter | x, y | Gateway | a |\n"
        "| `ocs_b` | gauge | | planned: issue-5 | b |\n"
    )
    rows = catalog.catalog(text)
    assert rows["ocs_a_total"].labels == ("x", "y") and rows["ocs_b"].labels == ()
    assert PLANNED in rows["ocs_b"].where


def test_promql_names():
    expr = (
        "histogram_quantile(0.95, sum by (route, le) (rate(ocs_http_request_duration_seconds_bucket"
        '{route=~"/v1/.*", job="ocs_x"}[5m]))) > on (model_version) group_left () '
        "model_version:ocs_model_validation_accuracy:max"
    )
    assert catalog.promql_names(expr) == {
        "ocs_http_request_duration_seconds_bucket",
        "model_version:ocs_model_validation_accuracy:max",
    }


@pytest.mark.skipif(chart.helm() is None, reason="helm not installed: run `make install`")
def test_rules_read_only_catalog_metrics_and_listed_recording_rules(listed):
    groups = prom.rule_groups()
    recorded = set(prom.rules(groups, "record"))
    assert recorded == catalog.recording_rules_listed(), "docs/metrics.md recording-rule table"
    alerts = set(prom.rules(groups, "alert"))
    assert {f"`{a}`" for a in alerts} <= set(catalog.CATALOG.read_text().split()), (
        "an alert missing from the catalog's alert table"
    )
    unknown = set()
    for group in groups:
        for rule in group["rules"]:
            for name in catalog.promql_names(rule["expr"]):
                if catalog.base_name(name, set(listed)) not in set(listed) | recorded:
                    unknown.add(name)
    assert not unknown, f"rules read metrics that are not in docs/metrics.md: {unknown}"
