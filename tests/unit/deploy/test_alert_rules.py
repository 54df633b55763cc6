"""The chart's Prometheus rules, checked and unit-tested by Debian's promtool."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests import chart, prom

pytestmark = [
    pytest.mark.skipif(chart.helm() is None, reason="helm not installed: run `make install`"),
    pytest.mark.skipif(
        prom.promtool() is None, reason=f"promtool not installed: {prom.INSTALL_HINT}"
    ),
]

HERE = Path(__file__).parent
TEST_FILES = ("alerts_test.yaml", "alerts_daily_test.yaml")


def _rules_dir(path: Path, *values: str) -> Path:
    prom.write_rules(path / "rules.yaml", *values)
    for name in TEST_FILES:
        shutil.copy(HERE / name, path / name)
    return path


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _rules_dir(tmp_path_factory.mktemp("rules"))


def test_promtool_check_rules(rules_dir):
    done = prom.run_promtool("check", "rules", str(rules_dir / "rules.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_test_rules(rules_dir):
    files = [str(rules_dir / f) for f in TEST_FILES]
    done = prom.run_promtool("test", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(TEST_FILES)


def test_every_alert_has_a_firing_and_a_quiet_test():
    groups = prom.rule_groups()
    alerts = set(prom.rules(groups, "alert"))
    fires: set[str] = set()
    quiet: set[str] = set()
    for name in TEST_FILES:
        for case in yaml.safe_load((HERE / name).read_text())["tests"]:
            for t in case.get("alert_rule_test", []):
                (fires if t["exp_alerts"] else quiet).add(t["alertname"])
    assert len(alerts) >= 12
    assert alerts - fires == set(), "alerts without a test where they fire"
    assert alerts - quiet == set(), "alerts without a test where they stay quiet"
    assert (fires | quiet) - alerts == set(), "tests of alerts the rules do not define"


def test_the_issue_thresholds_are_the_defaults():
    alerts = prom.rules(prom.rule_groups(), "alert")
    assert alerts["OcsHighErrorRate"]["expr"].strip().endswith("> 0.05")
    assert alerts["OcsHighErrorRate"]["for"] == "5m"
    assert alerts["OcsHighLatencyP95"]["expr"].strip().endswith("> 1")
    assert "* 0.9" in alerts["OcsRealizedAccuracyDrop"]["expr"]
    assert "* 0.9" in alerts["OcsEstimatedAccuracyDrop"]["expr"]
    assert alerts["OcsFeatureDrift"]["expr"].strip().endswith("> 0.2")
    assert alerts["OcsEmailFallbackRate"]["expr"].strip().endswith("> 0.2")


def test_thresholds_follow_the_values(tmp_path):
    """Same tests, rules rendered with other thresholds: the changed alerts no longer fire."""
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {"monitoring": {"prometheusRule": {"errorRatio": 0.5, "emailFallbackRatio": 0.9}}}
        )
    )
    rules_dir = _rules_dir(tmp_path, str(values))
    done = prom.run_promtool("test", "rules", str(rules_dir / "alerts_test.yaml"))
    assert done.returncode != 0
    report = done.stdout + done.stderr
    failed = {
        line.split("alertname:")[1].split(",")[0].strip()
        for line in report.splitlines()
        if "alertname:" in line
    }
    assert failed == {"OcsHighErrorRate", "OcsEmailFallbackRate"}, report


def test_bad_thresholds_are_refused_by_the_schema():
    out = chart.template(sets={"monitoring.prometheusRule.errorRatio": "5"}, check=False)
    assert "/monitoring/prometheusRule/errorRatio" in out
