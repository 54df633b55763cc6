"""The Helm chart, rendered by real helm, checked against Kubernetes' and the CRDs' schemas."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from tests import chart

pytestmark = pytest.mark.skipif(
    chart.helm() is None, reason="helm not installed: run `make install` (python -m tests.tools)"
)

VALUE_SETS = [(), *((f,) for f in chart.values_files())]
IDS = ["default", *chart.values_files()]
CORE_GROUPS = {"v1", "apps/v1", "batch/v1", "policy/v1", "networking.k8s.io/v1"}
REQUIRED_CRDS = {"RayService", "PrometheusRule", "ServiceMonitor", "PodMonitor", "HTTPRoute"}


def test_ci_values_files_exist():
    assert {"ci/cpu-local.yaml", "ci/gke-gpu.yaml", "ci/canary.yaml"} <= set(chart.values_files())


@pytest.mark.parametrize("values", VALUE_SETS, ids=IDS)
def test_helm_lint_strict(values):
    args = ["lint", "--strict", str(chart.CHART)]
    for f in values:
        args += ["-f", str(chart.CHART / f)]
    done = chart.run_helm(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {
        name: chart.documents(chart.template(*v)) for name, v in zip(IDS, VALUE_SETS, strict=True)
    }


@pytest.mark.parametrize("name", IDS)
def test_every_manifest_matches_its_schema(rendered, name):
    problems = []
    for doc in rendered[name]:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["apiVersion"] in CORE_GROUPS:
            try:
                chart.validate_core(doc)
            except Exception as exc:  # kubernetes_validate raises several error types
                problems.append(f"{where}: {exc}")
        else:
            problems += [f"{where}: {p}" for p in chart.validate_custom(doc)]
    assert not problems, "\n".join(problems)


def test_all_custom_resource_kinds_are_rendered_and_checked(rendered):
    kinds = {d["kind"] for docs in rendered.values() for d in docs}
    assert kinds >= REQUIRED_CRDS
    assert {("ray.io/v1", "RayService"), ("gateway.networking.k8s.io/v1", "HTTPRoute")} <= set(
        chart.crd_schemas()
    )


def test_the_checks_catch_mistakes(rendered):
    """The validators are not vacuous: a misspelt field fails both kinds of check."""
    ray = copy.deepcopy(next(d for d in rendered["default"] if d["kind"] == "RayService"))
    ray["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0][
        "imagePullPolcy"
    ] = "Always"
    ray["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"] = "two"
    problems = chart.validate_custom(ray)
    assert any("imagePullPolcy" in p for p in problems)
    assert any("replicas" in p for p in problems)
    deployment = copy.deepcopy(next(d for d in rendered["default"] if d["kind"] == "Deployment"))
    deployment["spec"]["replica"] = 2
    with pytest.raises(Exception, match="replica"):
        chart.validate_core(deployment)


def test_schema_rejects_a_typo():
    out = chart.template(sets={"predictor.canary.wieght": 10}, check=False)
    assert "additional properties 'wieght' not allowed" in out
    assert "at '/image/tag': 'not' failed" in chart.template(
        sets={"image.tag": "latest"}, check=False
    )


def test_validate_values_reports_every_problem_at_once():
    out = chart.template(
        sets={
            "predictor.canary.enabled": "true",
            "registry.type": "gcs",
            "emailGenerator.enabled": "true",
            "gateway.autoscaling.minReplicas": 5,
        },
        check=False,
    )
    for problem in [
        "predictor.canary.modelTag is empty",
        "registry.gcs.bucket is empty",
        "needs ray.gpuWorkers.enabled",
        "gateway.autoscaling.minReplicas (5) is above maxReplicas (4)",
    ]:
        assert problem in out, out


def _canary_docs(**sets):
    base = {
        "predictor.canary.modelTag": "cancel-predictor:b",
        "predictor.stable.modelTag": "cancel-predictor:a",
    }
    return chart.documents(chart.template("ci/canary.yaml", sets={**base, **sets}))


def test_weight_change_touches_only_the_gateway_user_config():
    before, after = (
        _canary_docs(**{"predictor.canary.weight": 10}),
        _canary_docs(**{"predictor.canary.weight": 50, "predictor.canary.shadow": "true"}),
    )
    changed = [
        (a["kind"], a["metadata"]["name"]) for a, b in zip(before, after, strict=True) if a != b
    ]
    assert changed == [("RayService", "ocs")]
    ray_a, ray_b = (next(d for d in docs if d["kind"] == "RayService") for docs in (before, after))
    assert {k: v for k, v in ray_a["spec"].items() if k != "serveConfigV2"} == {
        k: v for k, v in ray_b["spec"].items() if k != "serveConfigV2"
    }
    sa, sb = chart.serve_config(before), chart.serve_config(after)
    gw_a, gw_b = (
        next(d for d in s["applications"][0]["deployments"] if d["name"] == "Gateway")
        for s in (sa, sb)
    )
    assert gw_a["user_config"]["canary"] == {"enabled": True, "weight": 10, "shadow": False}
    assert gw_b["user_config"]["canary"] == {"enabled": True, "weight": 50, "shadow": True}
    gw_b["user_config"] = gw_a["user_config"]
    assert sa == sb  # nothing else moved: no args change, so Serve only calls reconfigure()


def test_canary_values_bind_the_canary_predictor():
    config = chart.serve_config(_canary_docs())
    app = config["applications"][0]
    assert app["import_path"] == "serving.app:build_app"
    assert app["args"]["model_tag"] == "cancel-predictor:a"
    assert app["args"]["canary_model_tag"] == "cancel-predictor:b"
    assert [d["name"] for d in app["deployments"]] == ["Gateway", "Predictor", "PredictorCanary"]
    plain = chart.serve_config(chart.documents(chart.template()))
    assert [d["name"] for d in plain["applications"][0]["deployments"]] == ["Gateway", "Predictor"]
    assert "canary_model_tag" not in plain["applications"][0]["args"]


@pytest.mark.parametrize("name", IDS)
def test_serve_config_is_a_valid_ray_serve_config(rendered, name):
    from ray.serve.schema import ServeDeploySchema

    config = chart.serve_config(rendered[name])
    ServeDeploySchema.model_validate(config)


def test_gpu_values_put_the_email_generator_on_gpu_nodes(rendered):
    docs = rendered["ci/gke-gpu.yaml"]
    app = chart.serve_config(docs)["applications"][0]
    email = next(d for d in app["deployments"] if d["name"] == "EmailGenerator")
    assert email["ray_actor_options"]["num_gpus"] == 1
    ray = next(d for d in docs if d["kind"] == "RayService")["spec"]["rayClusterConfig"]
    gpu = next(g for g in ray["workerGroupSpecs"] if g["groupName"] == "gpu")
    pod = gpu["template"]["spec"]
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["containers"][0]["image"].endswith(":0.1.0-gpu")
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(
        ".iam.gserviceaccount.com"
    )
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["registry"]["csi"]["volumeAttributes"]["bucketName"] == "ocs-prod-registry"
    assert volumes["llm-weights"]["csi"]["volumeAttributes"]["bucketName"] == "ocs-prod-llm-weights"
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert "OCS_REDIS_URL" in env  # Memorystore: from the Secret, since redis.enabled is false
    assert not [d for d in docs if d["kind"] == "StatefulSet"]


def _pods(docs):
    for doc in docs:
        spec = doc.get("spec", {})
        if doc["kind"] == "RayService":
            ray = spec["rayClusterConfig"]
            yield doc, ray["headGroupSpec"]["template"]
            for group in ray["workerGroupSpecs"]:
                yield doc, group["template"]
        elif doc["kind"] in {"Deployment", "StatefulSet"}:
            yield doc, spec["template"]
        elif doc["kind"] == "CronJob":
            yield doc, spec["jobTemplate"]["spec"]["template"]


@pytest.mark.parametrize("name", IDS)
def test_secure_pod_defaults_and_pinned_images(rendered, name):
    pods = list(_pods(rendered[name]))
    assert pods
    for doc, pod in pods:
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec.get("automountServiceAccountToken") is False
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert c["resources"]["limits"] and c["resources"]["requests"], doc["kind"]
            tag = c["image"].rsplit(":", 1)[1]
            assert tag and tag != "latest", c["image"]


def test_components_the_issue_asks_for(rendered):
    docs = rendered["default"]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {
        ("Deployment", "ocs-worker"),
        ("StatefulSet", "ocs-redis"),
        ("Service", "ocs-redis"),
    } <= kinds
    crons = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CronJob"}
    assert set(crons) == {"ocs-batch", "ocs-retrain", "ocs-drift"}
    command = {
        n: c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
        for n, c in crons.items()
    }
    assert command == {
        "ocs-batch": ["ocs", "batch", "run"],
        "ocs-retrain": ["ocs", "train", "pipeline", "--from-db", "--json"],
        "ocs-drift": ["ocs", "drift", "check", "--from-db", "--json"],
    }
    assert {"NetworkPolicy", "ConfigMap", "ServiceAccount"} <= {d["kind"] for d in docs}
    # a budget only where pods can spare one: with a single pod it would block node drains
    assert "PodDisruptionBudget" not in {d["kind"] for d in docs}
    pdbs = {
        d["metadata"]["name"]: d["spec"]["minAvailable"]
        for d in rendered["ci/gke-gpu.yaml"]
        if d["kind"] == "PodDisruptionBudget"
    }
    assert pdbs == {"ocs-ray-workers": 1, "ocs-worker": 1}
    worker = next(d for d in docs if d["kind"] == "Deployment")
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"] == ["ocs", "worker"]
    env = worker["spec"]["template"]["spec"]["containers"][0]["env"]
    secret_keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in env if "valueFrom" in e}
    # issue 5: the worker writes through the Gateway's OpenAI-compatible endpoint with its key
    assert secret_keys == {"database-url", "api-keys", "worker-api-key"}
    values = {e["name"]: e.get("value") for e in env}
    assert values["OCS_EMAIL_ENGINE"] == "openai"
    assert values["OCS_OPENAI_BASE_URL"] == "http://ocs-serve:8000/v1"
    in_pod = chart.documents(chart.template(sets={"worker.engine": "template"}))
    worker = next(d for d in in_pod if d["kind"] == "Deployment")
    env = worker["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["name"]: e.get("value") for e in env}["OCS_EMAIL_ENGINE"] == "template"
    assert "OCS_OPENAI_API_KEY" not in {e["name"] for e in env}


def test_config_checksum_rolls_pods_only_when_config_changes():
    def checksum(**sets):
        docs = chart.documents(chart.template(sets=sets))
        worker = next(d for d in docs if d["kind"] == "Deployment")
        return worker["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum() == checksum(**{"predictor.replicas": 3})
    assert checksum() != checksum(**{"config.logLevel": "DEBUG"})


def test_notes_tell_how_to_reach_the_service():
    done = chart.run_helm("install", "ocs", str(chart.CHART), "--dry-run=client", "-n", "ocs")
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert "port-forward svc/ocs-serve 8000" in notes and "/readyz" in notes


def test_values_schema_forbids_unknown_keys_everywhere():
    schema = json.loads((chart.CHART / "values.schema.json").read_text())
    values = yaml.safe_load((chart.CHART / "values.yaml").read_text())

    def walk(node, value, path):
        if isinstance(value, dict) and node.get("properties") is not None:
            assert node.get("additionalProperties") is False, path
            assert set(node["properties"]) == set(value), path
            for key, sub in value.items():
                walk(node["properties"][key], sub, f"{path}.{key}")

    walk(schema, values, "")


def test_every_value_is_documented():
    """Each leaf value has a `# --` comment right above it (helm-docs style)."""
    lines = (chart.CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        key, _, value = line.strip().partition(":")
        if line.lstrip().startswith("#") or not value.strip() or key in {"requests", "limits"}:
            continue
        if not lines[i - 1].strip().startswith("# --"):
            undocumented.append(f"{i + 1}: {line.strip()}")
    assert not undocumented, undocumented


def test_verdict_exit_codes_fail_the_job_without_retries(rendered):
    """`ocs drift check` exits 3/4 and `ocs train pipeline` 3 with an answer: no rerun."""
    crons = {d["metadata"]["name"]: d for d in rendered["default"] if d["kind"] == "CronJob"}

    def policy(name):
        return crons[name]["spec"]["jobTemplate"]["spec"].get("podFailurePolicy")

    assert policy("ocs-drift")["rules"] == [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "drift", "operator": "In", "values": [3, 4]},
        }
    ]
    assert policy("ocs-retrain")["rules"][0]["onExitCodes"]["values"] == [3]
    assert policy("ocs-batch") is None


def test_the_ray_head_migrates_the_store_before_it_starts(rendered):
    ray = next(d for d in rendered["default"] if d["kind"] == "RayService")["spec"]
    head = ray["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    (init,) = head["initContainers"]
    assert init["name"] == "db-migrate" and init["command"] == ["ocs", "db", "upgrade"]
    main = head["containers"][0]
    assert init["image"] == main["image"]  # the release's own migrations
    database = next(e for e in init["env"] if e["name"] == "OCS_DATABASE_URL")
    assert database == next(e for e in main["env"] if e["name"] == "OCS_DATABASE_URL")
    assert init["envFrom"] == main["envFrom"]
    for group in ray["rayClusterConfig"]["workerGroupSpecs"]:  # workers wait for the head
        assert "initContainers" not in group["template"]["spec"]

    off = chart.documents(chart.template(sets={"dbMigration.enabled": "false"}))
    ray_off = next(d for d in off if d["kind"] == "RayService")["spec"]["rayClusterConfig"]
    assert "initContainers" not in ray_off["headGroupSpec"]["template"]["spec"]
