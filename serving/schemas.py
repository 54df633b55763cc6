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


class Prediction(BaseModel):
    order_id: str
    dealer_id: str | None
    probability: float = Field(description="probability that the order will be cancelled")
    risk: Risk = Field(description="band from the risk thresholds in settings")
    model_version: str
    track: Track = "stable"


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class FeatureInfo(BaseModel):
    name: str
    type: str
    nullable: bool
    description: str = ""


class ModelInfo(BaseModel):
    tag: str
    version: str
    track: Track = "stable"
    spec: str
    created: str
    features: list[FeatureInfo]
    metrics: dict[str, Any] = Field(default_factory=dict)


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    risk_thresholds: dict[str, float]


class Health(BaseModel):
    status: str
    detail: str = ""
