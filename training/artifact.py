"""A trained model as it is saved and served: spec, fitted preprocessor and network together."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from training.features import Encoded, Preprocessor
from training.model import ModelConfig, TabularNet
from training.spec import FeatureSpec

SPEC_FILE = "spec.yaml"
PREPROCESSOR_FILE = "preprocessor.json"
CONFIG_FILE = "model_config.json"
WEIGHTS_FILE = "weights.pt"


class ModelArtifact:
    """Scores orders; the DataFrame and the record paths share every step after column lookup."""

    def __init__(self, spec: FeatureSpec, preprocessor: Preprocessor, net: TabularNet):
        self.spec = spec
        self.preprocessor = preprocessor
        self.net = net.eval()
        self.tag = ""  # set by the registry on load

    def logits(self, encoded: Encoded) -> np.ndarray:
        with torch.inference_mode():
            out = self.net(torch.from_numpy(encoded.numeric), torch.from_numpy(encoded.categorical))
        logits: np.ndarray = out.numpy().astype(np.float64)
        return logits

    def predict_proba(self, encoded: Encoded) -> np.ndarray:
        proba: np.ndarray = 1.0 / (1.0 + np.exp(-self.logits(encoded)))
        return proba

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

    @classmethod
    def load(cls, directory: Path) -> ModelArtifact:
        spec = FeatureSpec.from_dict(
            yaml.safe_load((directory / SPEC_FILE).read_text()), source=str(directory)
        )
        preprocessor = Preprocessor(spec, json.loads((directory / PREPROCESSOR_FILE).read_text()))
        net = TabularNet(ModelConfig(**json.loads((directory / CONFIG_FILE).read_text())))
        net.load_state_dict(torch.load(directory / WEIGHTS_FILE, weights_only=True))
        return cls(spec, preprocessor, net)
