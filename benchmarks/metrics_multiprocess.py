"""Cost of prometheus_client multiprocess mode against one in-process registry, side by side.

Per request the Gateway updates a counter and a histogram (HTTP) and a counter (predictions);
this times those updates in a fresh process per mode, then one scrape render of the merged
directory as written by several processes. Prints figures and the ratios.

    .venv/bin/python benchmarks/metrics_multiprocess.py [--updates 200000] [--processes 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

UPDATES = """
import json, sys, time
from serving.metrics import Metrics
n = int(sys.argv[1])
m = Metrics()
req = m.requests.labels("/v1/predict", "POST", "200")
lat = m.latency.labels("/v1/predict", "POST", "200")
pred = m.predictions.labels("7", "stable", "low")
started = time.perf_counter()
for _ in range(n):
    req.inc(); lat.observe(0.004); pred.inc()
elapsed = time.perf_counter() - started
started = time.perf_counter()
for _ in range(20):
    m.render()
render = (time.perf_counter() - started) / 20
print(json.dumps({"update_us": elapsed / n * 1e6, "render_ms": render * 1000}))
"""


def run(n: int, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", UPDATES, str(n)],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200_000)
    parser.add_argument("--processes", type=int, default=4, help="writers before the render")
    args = parser.parse_args()
    plain_env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    for round_ in (1, 2):
        single = run(args.updates, plain_env)
        with tempfile.TemporaryDirectory() as tmp:
            multi_env = {**plain_env, "PROMETHEUS_MULTIPROC_DIR": tmp}
            for _ in range(args.processes - 1):
                run(1000, multi_env)  # other replicas' files, merged by the render
            multi = run(args.updates, multi_env)
        print(
            f"round {round_}: single registry {single['update_us']:.2f} us per request's updates, "
            f"render {single['render_ms']:.2f} ms | multiprocess {multi['update_us']:.2f} us, "
            f"render of {args.processes} processes {multi['render_ms']:.2f} ms | "
            f"ratio updates {multi['update_us'] / single['update_us']:.2f}, "
            f"render {multi['render_ms'] / single['render_ms']:.2f}"
        )


if __name__ == "__main__":
    main()
