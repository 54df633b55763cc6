"""HTTP request and response models, split by direction."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Risk = Literal["low", "medium", "high"]
Track = Literal["stable", "canary"]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=128, description="the order's id in the OMS")
    dealer_id: str | None = Field(
        None, max_length=128, description="dealer that owns the order; fills the dealer feature"
    )
    features: dict[str, Any] = Field(
        description="one value per feature of the served model's spec (see GET /v1/models)"
    )


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    orders: list[OrderIn] = Field(min_length=1, description="1 to N orders (N from settings)")
    explain: bool = Field(False, description="add each order's top factors")
    top_k: int = Field(5, ge=1, le=50, description="factors per order when explain is true")


class Factor(BaseModel):
    feature: str
    value: Any = Field(description="the order's value of the feature")
    contribution: float = Field(
        description="log-odds this feature adds to the cancellation risk, against an average "
        "training order; the contributions of all features sum to the order's log-odds minus "
        "the average order's"
    )


class Prediction(BaseModel):
    order_id: str
    dealer_id: str | None
    probability: float = Field(description="probability that the order will be cancelled")
    risk: Risk = Field(description="band from the model's risk thresholds (GET /v1/models)")
    model_version: str
    track: Track = "stable"
    factors: list[Factor] | None = Field(None, description="top factors, when explain is true")


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class FeatureInfo(BaseModel):
    name: str
    type: str
    nullable: bool
    description: str = ""


class WeeklyAccuracy(BaseModel):
    """Served predictions of one ISO week (of the prediction) whose outcome is known."""

    track: Track
    week: str = Field(description="Monday of the prediction week, UTC (YYYY-MM-DD)")
    orders: int = Field(description="predictions with a known outcome")
    accuracy: float = Field(description="share right at the 0.5 threshold")
    brier: float
    cancel_rate: float
    mean_probability: float


class ModelInfo(BaseModel):
    tag: str
    version: str
    track: Track = "stable"
    spec: str
    created: str
    features: list[FeatureInfo]
    metrics: dict[str, Any] = Field(default_factory=dict)
    realized_accuracy: list[WeeklyAccuracy] | None = Field(
        default=None,
        description="per week, from reported outcomes; null where no store is connected",
    )


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    risk_thresholds: dict[str, float]


class Health(BaseModel):
    status: str
    detail: str = ""
