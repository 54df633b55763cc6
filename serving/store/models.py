"""Tables of the system of record. Migrations in ``migrations/versions`` must match these."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Stamp = DateTime(timezone=True)

JOB_STATUSES = ("queued", "generating", "draft", "failed")
EMAIL_STATUSES = ("draft", "approved", "sent")
OUTCOMES = ("fulfilled", "cancelled")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Order(Base):
    """An order as scored: the raw feature snapshot the model saw."""

    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    dealer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    features: Mapped[dict[str, Any]] = mapped_column(JSON)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # contact etc., not features
    order_date: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)


class Prediction(Base):
    __tablename__ = "predictions"
    # A batch scores an order once per day and model; API predictions (batch_date NULL) repeat.
    # Its index (order_id first) also serves lookups by order; one index less to maintain
    # keeps the batch's COPY of a million predictions affordable.
    __table_args__ = (
        UniqueConstraint("order_id", "model_version", "batch_date", name="uq_predictions_batch"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"))
    model_version: Mapped[str] = mapped_column(String(64))
    track: Mapped[str] = mapped_column(String(16), default="stable")
    probability: Mapped[float] = mapped_column(Float)
    risk: Mapped[str] = mapped_column(String(16))
    factors: Mapped[list[Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="api")  # api | batch
    batch_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow, index=True)


class Outcome(Base):
    """What really happened to an order; one row per order."""

    __tablename__ = "outcomes"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))  # fulfilled | cancelled
    occurred_at: Mapped[datetime] = mapped_column(Stamp)
    received_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)


class EmailJob(Base):
    """One retention email to write: queued -> generating -> draft, or failed with the error."""

    __tablename__ = "email_jobs"
    __table_args__ = (UniqueConstraint("order_id", "campaign_day", name="uq_email_jobs_day"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # No foreign key: POST /v1/emails may ask for an order that was never scored here.
    order_id: Mapped[str] = mapped_column(String(128), index=True)
    campaign_day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the EmailRequest
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    email_id: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(16), default="api")  # api | batch
    enqueued_at: Mapped[datetime | None] = mapped_column(Stamp)  # on the stream since
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow, onupdate=utcnow)


class Email(Base):
    """A draft and what the dealer did with it: draft -> approved -> sent."""

    __tablename__ = "emails"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("email_jobs.id"), unique=True)
    order_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    variant: Mapped[str] = mapped_column(String(64))
    prompt: Mapped[str] = mapped_column(String(64))  # ID@VERSION
    engine: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(32))  # generated, fallback_engine, ...
    guardrail_passed: Mapped[bool] = mapped_column()
    guardrail: Mapped[dict[str, Any]] = mapped_column(JSON)  # verdict and failure codes
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)  # the EmailDraft as generated
    dealer_subject: Mapped[str | None] = mapped_column(Text)  # the dealer's edits
    dealer_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(Stamp)
    sent_at: Mapped[datetime | None] = mapped_column(Stamp)


class Intervention(Base):
    """What a dealer did for an at-risk order: a call, a discount, a new delivery date, ..."""

    __tablename__ = "interventions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(128), index=True)
    email_id: Mapped[str | None] = mapped_column(ForeignKey("emails.id"))
    dealer_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))  # call | discount | new_delivery_date | email
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)


class TrackingEvent(Base):
    """Delivery, open, click or reply of a sent email."""

    __tablename__ = "tracking_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email_id: Mapped[str] = mapped_column(ForeignKey("emails.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # delivered | open | click | reply | bounce
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)


class IdempotencyRecord(Base):
    """The answer given to a POST with an ``Idempotency-Key``, replayed for a repeat."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    route: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Stamp, default=utcnow)
