"""Orders, predictions and outcomes: what was scored, what was said, what really happened."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import FromClause, func, select
from sqlalchemy.dialects import postgresql, sqlite

from serving.store.db import Database
from serving.store.models import Order, Outcome, Prediction, utcnow
from training.spec import FeatureSpec


def insert_for(db: Database, table: FromClause) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL and SQLite alike)."""
    module = postgresql if db.dialect == "postgresql" else sqlite
    return module.insert(table)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upsert_orders(db: Database, conn: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert orders; a known order gets the newer feature snapshot (what was scored last)."""
    if not rows:
        return
    stmt = insert_for(db, Order.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["order_id"],
        set_={
            "features": stmt.excluded.features,
            "dealer_id": func.coalesce(stmt.excluded.dealer_id, Order.__table__.c.dealer_id),
            "order_date": func.coalesce(Order.__table__.c.order_date, stmt.excluded.order_date),
        },
    )
    conn.execute(stmt, list(rows))


def insert_predictions(conn: Any, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(Prediction.__table__.insert(), list(rows))  # type: ignore[attr-defined]


@dataclass
class OutcomeReport:
    recorded: int = 0
    updated: int = 0
    unchanged: int = 0
    unknown_orders: list[str] = field(default_factory=list)


def record_outcomes(
    db: Database, items: Iterable[tuple[str, str, datetime | None]]
) -> OutcomeReport:
    """Store (order_id, outcome, occurred_at); idempotent per order, unknown orders reported."""
    report = OutcomeReport()
    wanted = {order_id: (outcome, when) for order_id, outcome, when in items}
    now = utcnow()
    with db.session() as session:
        ids = list(wanted)
        known: set[str] = set()
        existing: dict[str, Outcome] = {}
        for chunk in _chunks(ids, 500):
            known |= set(session.scalars(select(Order.order_id).where(Order.order_id.in_(chunk))))
            for found in session.scalars(select(Outcome).where(Outcome.order_id.in_(chunk))):
                existing[found.order_id] = found
        for order_id, (outcome, when) in wanted.items():
            if order_id not in known:
                report.unknown_orders.append(order_id)
                continue
            occurred = when or now
            row: Outcome | None = existing.get(order_id)
            if row is None:
                session.add(
                    Outcome(
                        order_id=order_id, outcome=outcome, occurred_at=occurred, received_at=now
                    )
                )
                report.recorded += 1
            elif row.outcome == outcome:
                report.unchanged += 1  # a repeat: the first report stands
            else:  # a correction from the order system
                row.outcome, row.occurred_at, row.received_at = outcome, occurred, now
                report.updated += 1
    return report


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


PREDICTION_OUTCOME_COLUMNS = [
    "order_id",
    "model_version",
    "track",
    "probability",
    "risk",
    "predicted_at",
    "outcome",
    "occurred_at",
]


def prediction_outcomes(db: Database, since: datetime | None = None) -> pd.DataFrame:
    """Each order's latest prediction joined to its outcome; orders without outcome left out."""
    p = Prediction.__table__.c
    ranked = select(
        p.order_id,
        p.model_version,
        p.track,
        p.probability,
        p.risk,
        p.created_at.label("predicted_at"),
        func.row_number()
        .over(partition_by=p.order_id, order_by=(p.created_at.desc(), p.id.desc()))
        .label("rank"),
    )
    if since is not None:
        ranked = ranked.where(p.created_at >= since)
    latest = ranked.subquery()
    o = Outcome.__table__.c
    query = (
        select(
            *[latest.c[name] for name in PREDICTION_OUTCOME_COLUMNS[:6]],
            o.outcome,
            o.occurred_at,
        )
        .join(Outcome.__table__, o.order_id == latest.c.order_id)
        .where(latest.c.rank == 1)
        .order_by(latest.c.order_id)
    )
    with db.engine.connect() as conn:
        rows = conn.execute(query).all()
    df = pd.DataFrame(rows, columns=PREDICTION_OUTCOME_COLUMNS)
    for column in ("predicted_at", "occurred_at"):
        df[column] = pd.to_datetime(df[column], utc=True)
    return df


def training_frame(db: Database, spec: FeatureSpec) -> pd.DataFrame:
    """Feature snapshots of orders with an outcome: the spec's raw inputs, label, order_date."""
    query = (
        select(Order.order_id, Order.features, Order.order_date, Order.dealer_id, Outcome.outcome)
        .join(Outcome, Outcome.order_id == Order.order_id)
        .order_by(Order.order_date, Order.order_id)
    )
    with db.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = _snapshots(rows, spec)
    frame.insert(
        len(frame.columns) - 1, spec.label.column, [int(r.outcome == "cancelled") for r in rows]
    )
    return frame


def _snapshots(rows: Sequence[Any], spec: FeatureSpec) -> pd.DataFrame:
    """Rows of (order_id, features, order_date, dealer_id) as the spec's id and raw input
    columns, then ``order_date``."""
    features = pd.DataFrame.from_records([r.features for r in rows], columns=list(spec.features))
    ids = pd.DataFrame({spec.id_column: [r.order_id for r in rows]})
    frame = pd.concat([ids, features], axis=1)
    if spec.dealer_column and spec.dealer_column not in frame:
        frame[spec.dealer_column] = [r.dealer_id for r in rows]
    frame["order_date"] = pd.to_datetime([r.order_date for r in rows])
    return frame


def recent_orders(db: Database, spec: FeatureSpec, since: datetime) -> pd.DataFrame:
    """Feature snapshots of the orders scored since ``since``, with or without an outcome:
    the spec's id and raw input columns and ``order_date`` (what ``ocs drift check`` compares)."""
    query = (
        select(Order.order_id, Order.features, Order.order_date, Order.dealer_id)
        .where(Order.created_at >= since)
        .order_by(Order.created_at, Order.order_id)
    )
    with db.engine.connect() as conn:
        rows = conn.execute(query).all()
    return _snapshots(rows, spec)


def order_count(db: Database, day: date | None = None) -> int:
    query = select(func.count()).select_from(Order)
    if day is not None:
        query = query.where(Order.order_date == day)
    with db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
