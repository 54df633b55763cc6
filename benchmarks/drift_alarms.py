"""Drift alarm rates over many seeds: false alarms on stationary samples, detection per scenario.

Trains the test suite's model (6,000 synthetic orders, seed 3, 8 epochs), then checks
``--seeds`` fresh samples of each kind at each sample size. A stationary sample should raise no
alarm; each drift scenario of ``training/synth.py`` should. Also prints the CBPE estimate beside
the realized accuracy (the labels the check never sees), and the mean stationary divergence of
the noisiest feature beside its predicted noise floor.

    .venv/bin/python benchmarks/drift_alarms.py [--seeds 200] [--rows 1000,2000,3000,5000]

Every line reads ``<rows> <scenario> alarm_rate <share> ...``; stationary lines are false alarms.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training import synth  # noqa: E402
from training.drift import Thresholds, check  # noqa: E402
from training.spec import load_spec  # noqa: E402
from training.train import TrainParams, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--rows", default="1000,2000,3000,5000")
    args = parser.parse_args()
    spec = load_spec("dealer_orders")
    artifact = train(
        synth.generate(6000, seed=3), spec, TrainParams(epochs=8, patience=3), progress=False
    ).artifact
    assert artifact.reference is not None
    thresholds = Thresholds(min_rows=1)  # judge every size, to show what min_rows protects from
    for rows in (int(r) for r in args.rows.split(",")):
        for scenario in (None, *synth.DRIFT_SCENARIOS):
            alarms, gaps, worst, floors = 0, [], [], []
            for seed in tqdm(
                range(1000, 1000 + args.seeds), desc=f"{rows} {scenario}", leave=False
            ):
                df = synth.generate(rows, seed=seed, drift=scenario)
                p = artifact.predict_frame(df)
                result = check(artifact.reference, spec, df, p, thresholds)
                alarms += result.status == "drift"
                realized = np.mean((p >= 0.5) == (df["outcome"] == "cancelled").to_numpy())
                gaps.append(result.estimated_accuracy - realized)
                top = max(result.features, key=lambda f: f.value / f.threshold)
                worst.append(top.value / top.threshold)
                dealer = next(f for f in result.features if f.feature == "dealer_id")
                floors.append((dealer.value, dealer.noise_floor))
            value, floor = np.mean(floors, axis=0)
            print(
                f"{rows} {scenario or 'stationary'} alarm_rate {alarms / args.seeds:.3f} "
                f"max_drift_over_threshold_median {np.median(worst):.2f} "
                f"cbpe_minus_realized_mean {np.mean(gaps):+.4f} sd {np.std(gaps):.4f} "
                f"dealer_js_mean {value:.4f} predicted_noise_floor {floor:.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
