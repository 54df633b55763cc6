"""A trained model as it is saved and served: spec, fitted preprocessor, network, calibration,
risk bands and the average order that explanations start from, in one folder."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from training.calibration import Calibrator
from training.features import Encoded, Preprocessor
from training.model import ModelConfig, Net, build
from training.spec import FeatureSpec

SPEC_FILE = "spec.yaml"
PREPROCESSOR_FILE = "preprocessor.json"
CONFIG_FILE = "model_config.json"
WEIGHTS_FILE = "weights.pt"
CALIBRATION_FILE = "calibration.json"
BANDS_FILE = "risk_bands.json"
BASELINE_FILE = "explain_baseline.json"
REFERENCE_FILE = "drift_reference.json"  # training.drift.reference_stats (issue 7)
DEFAULT_BANDS = {"medium": 0.35, "high": 0.6}  # models saved before bands were fitted
SCORE_CHUNK = 32_768  # rows per forward pass


def average_order(encoded: Encoded, cardinalities: list[int]) -> dict[str, list[Any]]:
    """Explanation baseline: mean encoded numerics and each category's training frequencies."""
    freqs = [
        (np.bincount(encoded.categorical[:, j], minlength=card) / max(len(encoded), 1)).tolist()
        for j, card in enumerate(cardinalities)
    ]
    return {"numeric": encoded.numeric.mean(0).astype(float).tolist(), "categorical": freqs}


class ModelArtifact:
    """Scores orders; the DataFrame and the record paths share every step after column lookup."""

    def __init__(
        self,
        spec: FeatureSpec,
        preprocessor: Preprocessor,
        net: Net,
        calibrator: Calibrator | None = None,
        bands: dict[str, float] | None = None,
        baseline: dict[str, list[Any]] | None = None,
        reference: dict[str, Any] | None = None,
    ):
        self.spec = spec
        self.preprocessor = preprocessor
        self.net = net.eval()
        self.calibrator = calibrator or Calibrator()
        self.bands = dict(bands or DEFAULT_BANDS)
        self.baseline = baseline
        self.reference = reference  # drift reference statistics; None for older models
        self.tag = ""  # set by the registry on load

    def logits(self, encoded: Encoded) -> np.ndarray:
        numeric = torch.from_numpy(encoded.numeric)
        categorical = torch.from_numpy(encoded.categorical)
        # Chunks keep each layer's activations in cache: one pass over a million rows would
        # stream gigabytes of intermediates through memory.
        out = np.empty(len(encoded), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(encoded), SCORE_CHUNK):
                stop = start + SCORE_CHUNK
                out[start:stop] = self.net(numeric[start:stop], categorical[start:stop]).numpy()
        return out

    def predict_proba(self, encoded: Encoded) -> np.ndarray:
        """Calibrated probabilities: what is served, banded and evaluated."""
        return self.calibrator.probability(self.logits(encoded))

    def predict_frame(self, df: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(self.preprocessor.transform(df))

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self.predict_proba(self.preprocessor.transform_records(records))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / SPEC_FILE).write_text(yaml.safe_dump(self.spec.to_dict(), sort_keys=False))
        (directory / PREPROCESSOR_FILE).write_text(json.dumps(self.preprocessor.state, indent=1))
        (directory / CONFIG_FILE).write_text(json.dumps(self.net.config.to_dict()))
        torch.save(self.net.state_dict(), directory / WEIGHTS_FILE)
        (directory / CALIBRATION_FILE).write_text(json.dumps(self.calibrator.to_dict()))
        (directory / BANDS_FILE).write_text(json.dumps(self.bands))
        if self.baseline is not None:
            (directory / BASELINE_FILE).write_text(json.dumps(self.baseline))
        if self.reference is not None:
            (directory / REFERENCE_FILE).write_text(json.dumps(self.reference))

    @classmethod
    def load(cls, directory: Path) -> ModelArtifact:
        spec = FeatureSpec.from_dict(
            yaml.safe_load((directory / SPEC_FILE).read_text()), source=str(directory)
        )
        preprocessor = Preprocessor(spec, json.loads((directory / PREPROCESSOR_FILE).read_text()))
        net = build(ModelConfig(**json.loads((directory / CONFIG_FILE).read_text())))
        net.load_state_dict(torch.load(directory / WEIGHTS_FILE, weights_only=True))

        def optional(name: str) -> Any:
            path = directory / name
            return json.loads(path.read_text()) if path.is_file() else None

        calibration = optional(CALIBRATION_FILE)
        return cls(
            spec,
            preprocessor,
            net,
            Calibrator.from_dict(calibration) if calibration else None,
            optional(BANDS_FILE),
            optional(BASELINE_FILE),
            optional(REFERENCE_FILE),
        )
