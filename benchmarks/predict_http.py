"""HTTP prediction throughput and latency: plain uvicorn vs. BentoML vs. the Ray Serve app.

One trained model, one client process, the same single-order requests against each server in
turn (never two servers at once: they would share the two cores), at concurrency 1 and 16.
This machine's speed drifts by tens of percent over minutes, so the servers take turns for
``--rounds`` rounds and each ratio is the mean of per-round ratios (servers measured minutes
apart, not tens of minutes).

    .venv/bin/python benchmarks/predict_http.py [--rounds 2] [--requests 3000] [--only ...]

The last two lines are ``ratio_vs_bentoml <ray/bentoml at c=16>`` and
``ratio <ray/bare at c=16>`` (throughput).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serving.auth import add_key  # noqa: E402
from serving.config import Scope  # noqa: E402
from serving.payload import orders_from_frame  # noqa: E402
from training import synth  # noqa: E402
from training.pipeline import train_and_register  # noqa: E402
from training.registry import Registry  # noqa: E402
from training.spec import load_spec  # noqa: E402
from training.train import TrainParams  # noqa: E402

KINDS = ("bare", "bentoml", "ray")
LABELS = {"bare": "uvicorn+FastAPI", "bentoml": "BentoML", "ray": "Ray Serve (ocs)"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(state: Path) -> tuple[str, list[dict[str, Any]]]:
    spec = load_spec("dealer_orders")
    registry = Registry(state / "registry")
    if not registry.list():
        df = synth.generate(20_000, seed=0)
        train_and_register(df, spec, registry, "bench", TrainParams(epochs=10), progress=False)
    key = add_key(state / "api_keys.json", "bench", [Scope.predict])
    return key, orders_from_frame(synth.generate(500, seed=99), spec)


def command(kind: str, port: int) -> list[str]:
    py = sys.executable
    if kind == "bare":
        return [
            py, "-m", "uvicorn", "serving.standalone:create", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--no-access-log",
        ]  # fmt: skip
    if kind == "bentoml":
        return [
            py, "-m", "bentoml", "serve", "benchmarks.bento_service:CancelService",
            "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
    return [py, "-m", "serving", "serve", "--host", "127.0.0.1", "--port", str(port)]


def launch(kind: str, state: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OCS_STATE_DIR": str(state),
        "BENTOML_DO_NOT_TRACK": "True",
        "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
        "PYTHONPATH": str(ROOT),
    }
    out = log.open("wb")
    return subprocess.Popen(
        command(kind, port), cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def wait_ready(url: str, headers: dict[str, str], body: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(url, data=body, headers=headers) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


async def load(
    url: str, headers: dict[str, str], bodies: list[bytes], concurrency: int, total: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                started = time.perf_counter()
                async with session.post(url, data=bodies[i % len(bodies)], headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "throughput_rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "errors": errors,
        "requests": len(latencies),
    }


def measure(
    kind: str, state: Path, key: str, orders: list[dict[str, Any]], args: argparse.Namespace
) -> dict[int, dict[str, float]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/predict"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    bodies = [json.dumps({"orders": [o]}).encode() for o in orders]
    proc = launch(kind, state, port, state / f"{kind}.log")
    try:
        asyncio.run(wait_ready(url, headers, bodies[0], timeout=300))
        results = {}
        for c in args.concurrency:
            asyncio.run(load(url, headers, bodies, c, args.warmup))
            total = args.requests if c > 1 else max(200, args.requests // 5)
            results[c] = asyncio.run(load(url, headers, bodies, c, total))
            r = results[c]
            print(
                f"{LABELS[kind]:<18} c={c:<3} {r['throughput_rps']:8.1f} req/s  "
                f"p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  "
                f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}",
                flush=True,
            )
        return results
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per run at c>1")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--only", default=",".join(KINDS), help="comma-separated subset")
    parser.add_argument("--rounds", type=int, default=2, help="turns each server takes")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/predict_http.json")
    args = parser.parse_args()
    kinds = [k for k in KINDS if k in args.only.split(",")]
    with tempfile.TemporaryDirectory(prefix="ocs-bench-") as tmp:
        state = Path(tmp)
        key, orders = prepare(state)
        print(f"one order per request; {os.cpu_count()} cores; client and server share them")
        rounds = []
        for i in range(args.rounds):
            print(f"-- round {i + 1} of {args.rounds}", flush=True)
            rounds.append({kind: measure(kind, state, key, orders, args) for kind in kinds})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rounds, indent=1))
    summarize(rounds, kinds, args.concurrency)


def summarize(rounds: list[dict[str, Any]], kinds: list[str], concurrency: list[int]) -> None:
    print("-- mean over rounds")
    for kind in kinds:
        for c in concurrency:
            runs = [r[kind][c] for r in rounds]
            mean = {k: float(np.mean([x[k] for x in runs])) for k in runs[0]}
            print(
                f"{LABELS[kind]:<18} c={c:<3} {mean['throughput_rps']:8.1f} req/s  "
                f"p50 {mean['p50_ms']:6.1f} ms  p95 {mean['p95_ms']:6.1f} ms  "
                f"p99 {mean['p99_ms']:6.1f} ms"
            )
    top = max(concurrency)

    def ratio(a: str, b: str) -> float:
        per_round = [r[a][top]["throughput_rps"] / r[b][top]["throughput_rps"] for r in rounds]
        return float(np.mean(per_round))

    if "ray" in kinds and "bentoml" in kinds:
        print(f"ratio_vs_bentoml {ratio('ray', 'bentoml'):.2f}")
    if "ray" in kinds and "bare" in kinds:
        print(f"ratio {ratio('ray', 'bare'):.2f}")


if __name__ == "__main__":
    main()
