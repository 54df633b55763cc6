"""Feature spec: a YAML file naming the id, label, time and dealer columns and each feature."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SPECS_DIR = Path(__file__).parent / "specs"


class SpecError(ValueError):
    """A spec that can't be used; the message names the field and the reason."""


class FeatureType(StrEnum):
    numeric = "numeric"
    categorical = "categorical"
    boolean = "boolean"


_MISSING_POLICIES: dict[FeatureType, set[str]] = {
    FeatureType.numeric: {"median", "mean", "zero", "error"},
    FeatureType.categorical: {"category", "error"},
    FeatureType.boolean: {"false", "true", "most_frequent", "error"},
}
_DEFAULT_MISSING = {
    FeatureType.numeric: "median",
    FeatureType.categorical: "category",
    FeatureType.boolean: "most_frequent",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Feature(_Strict):
    type: FeatureType
    missing: str | None = Field(
        None,
        description="numeric: median|mean|zero|error; categorical: category|error; "
        "boolean: false|true|most_frequent|error",
    )
    indicator: bool = Field(False, description="add a 0/1 column saying the value was missing")
    transform: Literal["none", "log1p"] = Field("none", description="numeric only")
    min_count: int = Field(
        1, ge=1, description="categorical only: rarer training categories share one bucket"
    )
    drift: bool = Field(
        True,
        description="compare in drift checks; false for calendar features (month, weekday) "
        "whose shares follow the season and the training window, not the customers",
    )
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Self:
        allowed = _MISSING_POLICIES[self.type]
        if self.missing is not None and self.missing not in allowed:
            raise ValueError(
                f"missing policy {self.missing!r} is not one of {sorted(allowed)} "
                f"for a {self.type.value} feature"
            )
        if self.transform != "none" and self.type is not FeatureType.numeric:
            raise ValueError("transform applies to numeric features only")
        if self.min_count != 1 and self.type is not FeatureType.categorical:
            raise ValueError("min_count applies to categorical features only")
        return self

    @property
    def missing_policy(self) -> str:
        return self.missing or _DEFAULT_MISSING[self.type]


class Label(_Strict):
    column: str
    positive: str | int | bool = Field(1, description="the label value that means cancelled")


class SplitSpec(_Strict):
    """How a data set is cut into train, validation and test; the latest rows are held out."""

    test_from: date | None = Field(
        default=None, description="rows at or after this date are the test set (needs time_column)"
    )
    valid_fraction: float = Field(default=0.15, gt=0, lt=1, description="latest part of the rest")
    test_fraction: float = Field(
        default=0.15, gt=0, lt=1, description="used when test_from is unset"
    )


class TrainingDefaults(_Strict):
    """Hyperparameters a data set trains best with; command-line options override them."""

    epochs: int | None = Field(default=None, ge=1)
    ensemble: int | None = Field(
        default=None, ge=1, le=16, description="members averaged in logits"
    )
    hidden: list[int] | None = None
    dropout: float | None = Field(default=None, ge=0, lt=1)
    learning_rate: float | None = Field(default=None, gt=0)
    weight_decay: float | None = Field(default=None, ge=0)
    batch_size: int | None = Field(default=None, ge=8)
    calibration: Literal["temperature", "isotonic", "none"] | None = None

    def overrides(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class FeatureSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    protocol: str | None = Field(default=None, description="name of the evaluation protocol")
    data_file: str | None = Field(default=None, description="default data file, under OCS_DATA_DIR")
    loader: str | None = Field(
        default=None, description="named preparation step (training/loaders.py)"
    )
    drop_columns: list[str] = Field(
        default_factory=list, description="removed before anything else: leaks, late columns"
    )
    split: SplitSpec = Field(default_factory=lambda: SplitSpec())
    training: TrainingDefaults = Field(default_factory=lambda: TrainingDefaults())
    id_column: str
    label: Label
    time_column: str | None = None
    dealer_column: str | None = None
    oracle_probability_column: str | None = Field(
        None, description="synthetic data only: the true cancellation probability"
    )
    features: dict[str, Feature] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_columns(self) -> Self:
        reserved = {
            "id_column": self.id_column,
            "label.column": self.label.column,
            "time_column": self.time_column,
            "oracle_probability_column": self.oracle_probability_column,
        }
        for field, column in reserved.items():
            if column is not None and column in self.features:
                raise ValueError(f"{field} {column!r} must not also be listed as a feature")
        used = {self.id_column, self.label.column, *self.features}
        if self.time_column is not None:
            used.add(self.time_column)
        dropped = sorted(used.intersection(self.drop_columns))
        if dropped:
            raise ValueError(f"drop_columns {dropped} are also used by the spec")
        if self.split.test_from is not None and self.time_column is None:
            raise ValueError("split.test_from needs a time_column")
        if self.dealer_column is not None and self.dealer_column not in self.features:
            # The dealer is both routing context and, usually, a strong feature.
            raise ValueError(f"dealer_column {self.dealer_column!r} must be one of the features")
        return self

    def feature_names(self, kind: FeatureType | None = None) -> list[str]:
        return [n for n, f in self.features.items() if kind is None or f.type is kind]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def from_dict(cls, data: Any, source: str = "spec") -> FeatureSpec:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError(_explain(exc, source)) from exc


def _explain(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        lines.append(f"{loc}: {msg}")
    return f"{source}: invalid feature spec:\n  " + "\n  ".join(lines)


def load_spec(name_or_path: str | Path) -> FeatureSpec:
    """Load a spec by shipped name (``dealer_orders``) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = SPECS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in SPECS_DIR.glob("*.yaml")))
        raise SpecError(f"{name_or_path}: no such spec file or shipped spec (shipped: {shipped})")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a spec must be a mapping at the top level")
    return FeatureSpec.from_dict(data, source=str(path))
