"""Explanation cost per order: a batch of 1,000 and single orders, beside plain scoring.

Integrated gradients cost ``steps`` forward and backward passes per order; the baseline run
side by side is scoring the same orders without explanations, so the ratio says what asking for
``"explain": true`` adds. By default the model is the served hotel-bookings configuration
(spec defaults: an ensemble of five), trained briefly; ``--model TAG`` uses a registered one.

    .venv/bin/python benchmarks/explain.py [--model TAG] [--epochs 3] [--singles 200]

The last lines are ``batch_ms_per_order <ms>`` and ``single_ms_per_order <ms>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serving.config import load_settings  # noqa: E402
from training.artifact import ModelArtifact  # noqa: E402
from training.explain import explain  # noqa: E402
from training.loaders import load_dataset  # noqa: E402
from training.registry import Registry  # noqa: E402
from training.spec import load_spec  # noqa: E402
from training.train import TrainParams, train  # noqa: E402


def model_and_records(args: argparse.Namespace) -> tuple[ModelArtifact, list[dict[str, object]]]:
    settings = load_settings()
    spec = load_spec(args.spec)
    _, df = load_dataset(spec, None, settings.data_dir)
    if args.model:
        artifact = Registry(settings.registry_path).load(args.model)
    else:
        params = TrainParams.for_spec(spec, epochs=args.epochs)
        artifact = train(df, spec, params, progress=False).artifact
    rows = df.sample(args.batch, random_state=0)
    return artifact, rows[list(artifact.spec.features)].to_dict("records")


def best_of(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", default="hotel_bookings")
    parser.add_argument("--model", help="registered tag; default: train one now")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--steps", type=int, default=load_settings().explain_steps)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the Predictor runs (OCS_TORCH_THREADS=1)
    artifact, records = model_and_records(args)
    pre = artifact.preprocessor
    members = getattr(artifact.net.config, "members", 1)
    print(f"model: {artifact.spec.name}, {members} member(s), {args.steps} integration steps")

    def batch_explain() -> None:
        explain(artifact, pre.transform_records(records), args.steps)

    def batch_score() -> None:
        artifact.predict_records(records)

    batch_s = best_of(batch_explain, 3)
    score_s = best_of(batch_score, 3)
    gap = explain(artifact, pre.transform_records(records), args.steps).gap
    singles, single_scores = [], []
    for record in records[: args.singles]:
        started = time.perf_counter()
        explain(artifact, pre.transform_records([record]), args.steps)
        singles.append(time.perf_counter() - started)
        started = time.perf_counter()
        artifact.predict_records([record])
        single_scores.append(time.perf_counter() - started)
    n = len(records)
    single_ms = statistics.median(singles) * 1000
    print(f"{'':<28}{'explain':>12}{'score only':>12}{'ratio':>8}")
    print(
        f"{f'batch of {n}, ms/order':<28}{batch_s * 1000 / n:>12.3f}"
        f"{score_s * 1000 / n:>12.4f}{batch_s / score_s:>8.1f}"
    )
    print(
        f"{'single order, ms (median)':<28}{single_ms:>12.3f}"
        f"{statistics.median(single_scores) * 1000:>12.3f}"
        f"{statistics.median(singles) / statistics.median(single_scores):>8.1f}"
    )
    print(f"single order p95 ms {np.percentile(singles, 95) * 1000:.3f}")
    print(f"completeness max |sum - (logit - baseline)| {gap.max():.2e}")
    print(f"batch_ms_per_order {batch_s * 1000 / n:.3f}")
    print(f"single_ms_per_order {single_ms:.3f}")


if __name__ == "__main__":
    main()
