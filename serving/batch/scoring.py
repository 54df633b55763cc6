"""The served model, loaded for the batch; optionally scored across a Ray cluster."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from serving.batch.run import Scoring
from serving.config import Settings
from training.registry import Registry


def load_scoring(settings: Settings) -> Scoring:
    """The model of ``OCS_MODEL_TAG`` with its bands (and any override) and email threshold."""
    record, artifact = Registry(settings.registry_path).open(settings.model_tag)
    thresholds = settings.risk_thresholds(artifact.bands)
    threshold = settings.email_risk_threshold or thresholds["high"]
    # OCS_TORCH_THREADS: more threads pay off on cores of its own; on shared cores OpenMP's
    # spinning threads made a million rows 4x slower with 2 threads than with 1 (measured).
    torch.set_num_threads(settings.torch_threads)
    return Scoring(artifact, record.version, thresholds, threshold)


class _RayPredictor:
    """One per Ray actor: the artifact travels once, then scores pandas batches."""

    def __init__(self, artifact_bytes: bytes):
        import pickle

        self.artifact = pickle.loads(artifact_bytes)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"probability": self.artifact.predict_frame(batch)})


def ray_scorer(scoring: Scoring) -> Callable[[pd.DataFrame], np.ndarray]:
    """Scores chunks with Ray Data ``map_batches``: the same artifact code, in Ray workers."""
    import pickle

    payload = pickle.dumps(scoring.artifact)

    def score(frame: pd.DataFrame) -> np.ndarray:
        import ray

        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)
        dataset = ray.data.from_pandas(frame.reset_index(drop=True))
        scored = dataset.map_batches(
            _RayPredictor,
            fn_constructor_args=(payload,),
            batch_format="pandas",
            batch_size=8192,
            concurrency=1,
        )
        out: np.ndarray = scored.to_pandas()["probability"].to_numpy(dtype=np.float64)
        return out

    return score
