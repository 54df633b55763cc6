"""Email request and response models, split by direction."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Language = Literal["en", "de"]
Delivery = Literal["on_time", "delayed", "backordered", "shipped", "unknown"]


class Offer(BaseModel):
    """One offer from the dealer's catalog; only these may appear in an email."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = Field(min_length=1, max_length=200)
    percent: float | None = Field(None, gt=0, le=100, description="a percentage discount")
    amount: float | None = Field(None, gt=0, description="a fixed discount in the order currency")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.percent is not None and self.amount is not None:
            raise ValueError("an offer has a percent or an amount, not both")
        return self


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str = Field(min_length=1, max_length=64)
    last_name: str = Field("", max_length=64)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class EmailRequest(BaseModel):
    """Everything the email may be about; free text (notes) is data, never instructions."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    dealer_id: str = Field(min_length=1, max_length=64)
    dealer_name: str = Field(min_length=1, max_length=120)
    customer: Customer
    product: str = Field(min_length=1, max_length=200)
    order_value: float = Field(ge=0)
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    delivery_status: Delivery = "unknown"
    delay_days: int = Field(0, ge=0, le=365)
    risk: float = Field(ge=0, le=1, description="predicted cancellation probability")
    top_factors: list[str] = Field(default_factory=list, max_length=10)
    notes: str = Field("", max_length=2000, description="free text from the dealer or customer")
    allowed_offers: list[Offer] = Field(default_factory=list, max_length=10)
    language: Language = "en"


Outcome = Literal[
    "generated", "regenerated", "cached", "fallback_engine", "fallback_guardrails", "fallback_open"
]


class Verdict(BaseModel):
    passed: bool
    reasons: list[str] = Field(default_factory=list, description="one line per failed check")


class Usage(BaseModel):
    tokens_in: int = 0
    tokens_out: int = 0


class EmailDraft(BaseModel):
    """A generated (or fallback) email, as stored and returned."""

    id: str
    order_id: str
    subject: str
    body: str = Field(description="plain text")
    body_html: str = Field(description="simple HTML; everything from model or customer escaped")
    language: Language
    variant: str
    engine: str
    model: str
    prompt: str = Field(description="prompt ID@VERSION")
    prompt_hash: str
    verdict: Verdict
    outcome: Outcome
    fallback_used: bool
    fallback_reasons: list[str] = Field(default_factory=list, description="why the fallback")
    guardrail_failures: list[str] = Field(
        default_factory=list, description="reason codes of drafts rejected by the guardrails"
    )
    attempts: int = Field(description="engine generations that returned text")
    cached: bool = False
    cache: Literal["hit", "miss", "bypass"] = Field(
        "miss", description="bypass: the cache was unavailable (never an error)"
    )
    latency_ms: float
    usage: Usage
    created: str


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=20_000)


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat-completions request this endpoint honours."""

    model_config = ConfigDict(extra="ignore")

    model: str = ""
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    response_format: dict[str, object] | None = None
    stream: Literal[False] = False
