"""The chart's rendered serveConfigV2, deployed with Ray Serve on this machine (CPU).

One Ray Serve session for the whole module: the config `helm template` renders is deployed the
way `serve deploy` / KubeRay deploy it (a declarative config, so a `user_config` change only
calls `reconfigure()`), and each weight change is a fresh `helm template --set` re-deployed.
"""

from __future__ import annotations

import copy
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from serving.auth import add_key
from serving.config import Scope
from serving.payload import orders_from_frame
from tests import chart
from tests.integration.conftest import free_port, wait_ready
from training.registry import Registry

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(chart.helm() is None, reason="helm not installed: run `make install`"),
]


def constant_model(trained):
    """A deliberately broken model: every order scores the same (last layer zeroed)."""
    import torch

    artifact = copy.deepcopy(trained.artifact)
    last = artifact.net.mlp[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(-0.5)
    return artifact


@dataclass
class Live:
    url: str
    key: str
    tags: dict[str, str]
    state_dir: str
    orders: list[dict[str, Any]]
    cancelled: list[bool]  # the true outcome of each of `orders`
    deployed: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, bool] = field(default_factory=dict)  # order id sent -> outcome
    metrics_dir: str = ""  # stands in for the pod's own /tmp/ocs-metrics

    def render(self, canary: str, weight: int, shadow: bool = False) -> dict[str, Any]:
        docs = chart.documents(
            chart.template(
                "ci/cpu-local.yaml",
                "ci/canary.yaml",
                sets={
                    "predictor.stable.modelTag": self.tags["stable"],
                    "predictor.canary.modelTag": self.tags[canary],
                    "predictor.canary.weight": weight,
                    "predictor.canary.shadow": str(shadow).lower(),
                    # two cores here: the replicas must fit next to each other
                    "predictor.numCpus": 0,
                    "gateway.numCpus": 0,
                },
            )
        )
        config = chart.serve_config(docs)
        # The one local change: where this test's registry and keys live (a pod gets
        # OCS_REGISTRY_DIR and OCS_API_KEYS from the chart's ConfigMap and Secret instead).
        config["applications"][0]["args"]["state_dir"] = self.state_dir
        # ... and where the replicas write metrics: a pod's /tmp is its own, this machine's isn't
        env = config["applications"][0]["runtime_env"]["env_vars"]
        env["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir
        return config

    def deploy(self, config: dict[str, Any]) -> None:
        from ray.serve.context import _get_global_client
        from ray.serve.schema import ServeDeploySchema

        _get_global_client().deploy_apps(ServeDeploySchema.model_validate(config))
        self.deployed.append(config)

    def report(self, client: httpx.Client) -> dict[str, Any]:
        r = client.get("/v1/canary", headers={"Authorization": f"Bearer {self.key}"})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_for(self, client: httpx.Client, ok, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.report(client)
                if ok(last):
                    return last
            except (httpx.TransportError, AssertionError) as exc:
                last = exc
            time.sleep(0.3)
        raise AssertionError(f"the deployment did not reach the expected state: {last}")

    def batch(self, rng: random.Random, n: int = 50) -> dict[str, Any]:
        out = []
        for i in rng.sample(range(len(self.orders)), n):
            order_id = f"live-{rng.getrandbits(48):x}"
            self.outcomes[order_id] = self.cancelled[i]
            out.append({**self.orders[i], "order_id": order_id})
        return {"orders": out}


@pytest.fixture(scope="module")
def live(tmp_path_factory, trained, orders_df, spec) -> Iterator[Live]:
    ray = pytest.importorskip("ray")
    from ray import serve

    from serving.server import SERVE_ENV

    if ray.is_initialized():
        pytest.fail("another Ray session is running in this process; this module starts its own")
    # A registry of its own: the session's registry must keep its one model as `latest`.
    state = tmp_path_factory.mktemp("ocs-canary")
    registry = Registry(state / "registry")
    meta = {"spec": trained.artifact.spec.to_dict(), "metrics": trained.metrics}
    tags = {
        "stable": registry.save(copy.deepcopy(trained.artifact), meta, {"stage": "stable"}),
        "equivalent": registry.save(copy.deepcopy(trained.artifact), meta, {"stage": "canary"}),
        "broken": registry.save(constant_model(trained), meta, {"stage": "broken"}),
    }
    key = add_key(state / "api_keys.json", "sre", [Scope.predict, Scope.admin])
    for name, value in SERVE_ENV.items():
        os.environ.setdefault(name, value)
    os.environ["RAY_SERVE_HAPROXY_STATS_PORT"] = str(free_port())
    os.environ["RAY_SERVE_HAPROXY_METRICS_PORT"] = str(free_port())
    port = free_port()
    ray.init(address="local", include_dashboard=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    setup = Live(
        url=f"http://127.0.0.1:{port}",
        key=key,
        tags=tags,
        state_dir=str(state),
        orders=orders_from_frame(orders_df.tail(400), spec),
        cancelled=list(orders_df.tail(400)["outcome"] == "cancelled"),
        metrics_dir=str(state / "metrics"),
    )
    try:
        yield setup
    finally:
        serve.shutdown()
        ray.shutdown()


def test_rendered_serve_config_deploys_and_answers_predict(live):
    live.deploy(live.render("equivalent", weight=0))
    with httpx.Client(base_url=live.url, timeout=60) as client:
        wait_ready(client, timeout=240)
        live.wait_for(client, lambda r: "canary" in r["versions"])
        body = live.batch(random.Random(1), 5)
        r = client.post("/v1/predict", json=body, headers={"Authorization": f"Bearer {live.key}"})
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        assert len(preds) == 5
        stable_version = live.tags["stable"].split(":")[1]
        assert {(p["track"], p["model_version"]) for p in preds} == {("stable", stable_version)}


class Traffic:
    """Continuous predict requests from a thread; records every response's tracks."""

    def __init__(self, live: Live):
        self.live = live
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.tracks: list[tuple[int, str]] = []  # (phase, track) per order
        self.phase = -1
        self.versions: set[tuple[str, str]] = set()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rng = random.Random(7)
        headers = {"Authorization": f"Bearer {self.live.key}"}
        with httpx.Client(base_url=self.live.url, timeout=60) as client:
            while not self.stop.is_set():
                phase = self.phase
                try:
                    r = client.post("/v1/predict", json=self.live.batch(rng), headers=headers)
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if r.status_code != 200:
                    self.failures.append(f"{r.status_code}: {r.text[:200]}")
                    continue
                for p in r.json()["predictions"]:
                    self.tracks.append((phase, p["track"]))
                    self.versions.add((p["track"], p["model_version"]))

    def count(self, phase: int) -> Counter[str]:
        return Counter(t for ph, t in list(self.tracks) if ph == phase)

    def wait_orders(self, phase: int, n: int, timeout: float = 300) -> Counter[str]:
        deadline = time.monotonic() + timeout
        while sum(self.count(phase).values()) < n:
            assert time.monotonic() < deadline, f"too few answers in phase {phase}"
            assert self.thread.is_alive(), self.failures[-3:]
            time.sleep(0.2)
        return self.count(phase)


def test_weight_0_50_100_applied_live_without_failures_or_restarts(live):
    traffic = Traffic(live)
    with httpx.Client(base_url=live.url, timeout=60) as client:
        first = live.report(client)
        traffic.thread.start()
        try:
            for phase, weight in enumerate([0, 50, 100]):
                live.deploy(live.render("equivalent", weight=weight))
                now = live.wait_for(client, lambda r, w=weight: r["effective_weight"] == w)
                assert now["replica"] == first["replica"]  # reconfigured, not restarted
                traffic.phase = phase
                counts = traffic.wait_orders(phase, 1500)
                share = 100 * counts["canary"] / sum(counts.values())
                print(f"weight {weight}: canary answered {share:.1f}% of {sum(counts.values())}")
                assert abs(share - weight) <= 5, (weight, counts)
        finally:
            traffic.stop.set()
            traffic.thread.join(timeout=60)
        assert not traffic.failures, traffic.failures[:5]
        versions = {v for _, v in traffic.versions}
        assert versions == {
            live.tags["stable"].split(":")[1],
            live.tags["equivalent"].split(":")[1],
        }
        last = live.report(client)
        assert last["replica"] == first["replica"]
        assert last["tracks"]["canary"]["errors"] == 0


def _send(live: Live, orders: int, seed: int) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {live.key}"}
    with httpx.Client(base_url=live.url, timeout=60) as client:
        for _ in range(orders // 50):
            r = client.post("/v1/predict", json=live.batch(rng), headers=headers)
            assert r.status_code == 200, r.text


def _analyze(live: Live, *extra: str) -> tuple[int, str]:
    from serving.cli import app

    args = ["canary", "analyze", "--url", live.url, "--key", live.key, "--polls", "2", *extra]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


def test_analyze_promotes_an_equivalent_canary(live):
    live.deploy(live.render("equivalent", weight=50))
    with httpx.Client(base_url=live.url, timeout=60) as client:
        live.wait_for(client, lambda r: r["effective_weight"] == 50)
    _send(live, 1500, seed=11)
    code, out = _analyze(live)
    print(out)
    assert code == 0 and "verdict: promote" in out, out
    from serving.cli import app

    args = ["--url", live.url, "--key", live.key]
    status = CliRunner().invoke(app, ["canary", "status", *args])
    assert status.exit_code == 0 and "weight=50" in status.output, status.output
    assert live.tags["equivalent"] in status.output
    promote = CliRunner().invoke(app, ["canary", "promote", *args])  # reads the canary's tag live
    assert f"--set predictor.stable.modelTag={live.tags['equivalent']}" in promote.output
    with httpx.Client(base_url=live.url, timeout=60) as client:
        metrics = client.get("/metrics").text
    version = live.tags["equivalent"].split(":")[1]
    assert (
        f'ocs_predictions_total{{model_version="{version}",risk="low",track="canary"}}' in metrics
    )
    assert 'ocs_track_scoring_duration_seconds_count{track="canary"}' in metrics
    assert "ocs_canary_weight_percent 50.0" in metrics


def test_analyze_rolls_back_a_constant_score_canary(live, tmp_path):
    live.deploy(live.render("broken", weight=50))
    broken_version = live.tags["broken"].split(":")[1]
    with httpx.Client(base_url=live.url, timeout=60) as client:
        # a new canary model changes the app's args: Serve redeploys, figures start afresh
        live.wait_for(
            client,
            lambda r: r["versions"].get("canary") == broken_version and r["effective_weight"] == 50,
            timeout=300,
        )
    _send(live, 1500, seed=12)
    import pandas as pd

    outcomes = tmp_path / "outcomes.csv"
    known = pd.DataFrame(
        {"order_id": list(live.outcomes), "cancelled": list(live.outcomes.values())}
    )
    known.astype({"cancelled": int}).to_csv(outcomes, index=False)
    code, out = _analyze(live, "--outcomes", str(outcomes))
    print(out)
    assert code == 4 and "verdict: rollback" in out, out
    assert "distributed differently" in out
    # accuracy alone can favour a constant "fulfilled" when few orders are cancelled; the
    # Brier score sees that every probability is the same
    assert out.count("accuracy 0.") == 2 and "realized Brier score canary" in out


def test_shadow_mode_answers_with_stable_and_records_disagreement(live):
    live.deploy(live.render("broken", weight=50, shadow=True))
    headers = {"Authorization": f"Bearer {live.key}"}
    with httpx.Client(base_url=live.url, timeout=60) as client:
        live.wait_for(client, lambda r: r["shadow_active"])
        rng = random.Random(13)
        tracks = Counter()
        for _ in range(10):
            r = client.post("/v1/predict", json=live.batch(rng), headers=headers)
            assert r.status_code == 200, r.text
            tracks.update(p["track"] for p in r.json()["predictions"])
        assert tracks == Counter({"stable": 500})
        report = live.wait_for(client, lambda r: r["shadow"]["compared"] >= 500)
        print(f"shadow: {report['shadow']}")
        assert report["shadow"]["agreement"] < 0.9  # a constant score can't match the bands
