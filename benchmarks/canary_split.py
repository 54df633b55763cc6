"""What a canary costs the Ray Serve app: stable only vs. a 50% canary vs. shadow mode.

One Ray Serve session; the three configurations are deployed in turn from the Serve config file
(as `serve deploy` would), ``--rounds`` times, with the same single-order requests at
concurrency 16. The canary is the stable model registered again, so only routing differs:
at 50% each Predictor sees half the orders (less coalescing per handle); in shadow mode every
order is scored twice.

    .venv/bin/python benchmarks/canary_split.py [--rounds 2] [--requests 3000]

Prints one line per run and, last, ``ratio_canary50 <canary50/stable>`` and
``ratio_shadow <shadow/stable>`` (throughput, mean of per-round ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.predict_http import free_port, load, prepare, wait_ready  # noqa: E402
from serving.server import SERVE_ENV  # noqa: E402
from training.registry import Registry  # noqa: E402

MODES = ("stable", "canary50", "shadow")


def config(base: dict[str, Any], state: Path, stable: str, canary: str, mode: str) -> dict:
    out = copy.deepcopy(base)
    app = out["applications"][0]
    app["args"] = {"model_tag": stable, "state_dir": str(state)}
    gateway = next(d for d in app["deployments"] if d["name"] == "Gateway")
    predictor = next(d for d in app["deployments"] if d["name"] == "Predictor")
    if mode != "stable":
        app["args"]["canary_model_tag"] = canary
        app["deployments"].append({**copy.deepcopy(predictor), "name": "PredictorCanary"})
    gateway["user_config"] = {
        "canary": {"enabled": mode != "stable", "weight": 50, "shadow": mode == "shadow"}
    }
    out.pop("http_options", None)
    return out


def deploy(cfg: dict[str, Any], url: str, key: str, mode: str) -> None:
    import httpx
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    _get_global_client().deploy_apps(ServeDeploySchema.model_validate(cfg))
    deadline = time.monotonic() + 300
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < deadline:
            try:
                r = client.get("/v1/canary", headers={"Authorization": f"Bearer {key}"})
                body = r.json() if r.status_code == 200 else {}
                versions = body.get("versions", {})
                if mode == "stable":
                    ready = "stable" in versions and "canary" not in versions
                else:
                    ready = "canary" in versions and body["shadow_active"] == (mode == "shadow")
                if ready:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    raise RuntimeError(f"{mode} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for name, value in SERVE_ENV.items():
        os.environ.setdefault(name, value)
    os.environ["RAY_SERVE_HAPROXY_STATS_PORT"] = str(free_port())
    os.environ["RAY_SERVE_HAPROXY_METRICS_PORT"] = str(free_port())
    import ray
    from ray import serve

    from serving.auth import add_key
    from serving.config import Scope

    base = yaml.safe_load((ROOT / "serving" / "serve_config.yaml").read_text())
    with tempfile.TemporaryDirectory(prefix="ocs-bench-") as tmp:
        state = Path(tmp)
        key, orders = prepare(state)
        admin = add_key(state / "api_keys.json", "bench-admin", [Scope.admin])
        registry = Registry(state / "registry")
        stable = registry.list()[0].tag
        artifact = registry.load(stable)
        canary = registry.save(artifact, registry.record(stable).metadata, {"stage": "canary"})
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        bodies = [json.dumps({"orders": [o]}).encode() for o in orders]
        ray.init(address="local", include_dashboard=False)
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        print(f"one order per request, c={args.concurrency}; {os.cpu_count()} cores shared")
        rounds: list[dict[str, dict[str, float]]] = []
        try:
            for i in range(args.rounds):
                print(f"-- round {i + 1} of {args.rounds}", flush=True)
                results = {}
                for mode in MODES:
                    deploy(config(base, state, stable, canary, mode), url, admin, mode)
                    asyncio.run(wait_ready(f"{url}/v1/predict", headers, bodies[0], 120))
                    c = args.concurrency
                    asyncio.run(load(f"{url}/v1/predict", headers, bodies, c, args.warmup))
                    r = asyncio.run(load(f"{url}/v1/predict", headers, bodies, c, args.requests))
                    results[mode] = r
                    print(
                        f"{mode:<9} {r['throughput_rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms"
                        f"  p95 {r['p95_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
                        f"  errors {r['errors']}",
                        flush=True,
                    )
                rounds.append(results)
        finally:
            serve.shutdown()  # type: ignore[no-untyped-call]
            ray.shutdown()
    for mode in ("canary50", "shadow"):
        ratios = [r[mode]["throughput_rps"] / r["stable"]["throughput_rps"] for r in rounds]
        print(f"ratio_{mode} {sum(ratios) / len(ratios):.3f}")


if __name__ == "__main__":
    main()
