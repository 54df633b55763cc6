"""The chart's scrape set-up: every replica process of a pod writes where its sidecar reads."""

from __future__ import annotations

import pytest
import yaml

from tests import chart

pytestmark = pytest.mark.skipif(
    chart.helm() is None, reason="helm not installed: run `make install` (python -m tests.tools)"
)


def _ray_pods(docs: list[dict]) -> list[dict]:
    (ray,) = [d for d in docs if d["kind"] == "RayService"]
    cluster = ray["spec"]["rayClusterConfig"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    return [g["template"]["spec"] for g in groups]


def test_each_ray_pod_serves_its_replicas_metrics_from_the_directory_they_write():
    docs = chart.documents(chart.template("ci/gke-gpu.yaml"))
    config = chart.serve_config(docs)
    (application,) = config["applications"]
    metrics_dir = application["runtime_env"]["env_vars"]["PROMETHEUS_MULTIPROC_DIR"]
    pods = _ray_pods(docs)
    assert len(pods) == 3  # head, CPU and GPU workers
    for pod in pods:
        sidecar = next(c for c in pod["containers"] if c["name"] == "metrics")
        command = sidecar["command"]
        assert command[:3] == ["ocs", "metrics", "serve"]
        assert command[command.index("--dir") + 1] == metrics_dir
        assert metrics_dir.startswith("/tmp/")
        mounts = {m["mountPath"]: m["name"] for m in sidecar["volumeMounts"]}
        ray_container = pod["containers"][0]
        ray_mounts = {m["mountPath"]: m["name"] for m in ray_container["volumeMounts"]}
        assert mounts["/tmp"] == ray_mounts["/tmp"]  # the same emptyDir
        port = sidecar["ports"][0]
        assert port["name"] == "ocs-metrics" and str(port["containerPort"]) == command[-1]
    (monitor,) = [d for d in docs if d["kind"] == "PodMonitor"]
    assert {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]} == {"metrics", "ocs-metrics"}
    policy = next(
        d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("-ray")
    )
    ports = {p["port"] for p in policy["spec"]["ingress"][0]["ports"]}
    assert 9464 in ports


def test_no_sidecar_without_the_pod_monitor():
    docs = chart.documents(chart.template())
    for pod in _ray_pods(docs):
        assert [c["name"] for c in pod["containers"]] == [pod["containers"][0]["name"]]


def test_pod_and_service_monitor_together_are_refused():
    sets = {"monitoring.podMonitor.enabled": "true", "monitoring.serviceMonitor.enabled": "true"}
    out = chart.template(sets=sets, check=False)
    assert "counts twice" in out and "monitoring.podMonitor" in out


def test_the_prometheus_rule_carries_every_group_of_the_rules_file():
    docs = chart.documents(chart.template(sets={"monitoring.prometheusRule.enabled": "true"}))
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    names = [g["name"] for g in rule["spec"]["groups"]]
    source = (chart.CHART / "files" / "rules.yaml").read_text()
    assert names == [
        line.split("name: ")[1] for line in source.splitlines() if line.startswith("- name: ")
    ]
    assert yaml.safe_dump(rule)  # serialisable as rendered
