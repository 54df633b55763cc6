"""``ocs batch run``: the day's orders scored through the served model's own feature path.

Chunk by chunk, in one transaction each: order snapshots, predictions and email jobs (one per
order and campaign day). Orders of the day that already have a prediction from this model are
skipped, so a run killed midway and started again finishes the day without duplicates.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import select

from serving.batch.contact import email_requests
from serving.batch.validate import Checked, check
from serving.config import Settings
from serving.jobs.stream import JobStream
from serving.store import bulk, jobs
from serving.store.db import Database
from serving.store.models import Order, Prediction, utcnow
from training.artifact import ModelArtifact
from training.bands import band_array
from training.spec import FeatureSpec

CONTACT_COLUMNS = [
    "customer_email",
    "customer_first_name",
    "customer_last_name",
    "dealer_name",
    "product",
    "currency",
    "language",
]


@dataclass
class BatchSummary:
    day: date
    model: str
    rows: int = 0
    scored: int = 0
    already_scored: int = 0
    rejected: int = 0
    risk: Counter[str] = field(default_factory=Counter)
    emails_queued: int = 0
    emails_existing: int = 0
    no_contact: int = 0
    published: int = 0
    seconds: float = 0.0
    rejects_file: str | None = None

    def lines(self) -> list[str]:
        bands = ", ".join(f"{k} {self.risk.get(k, 0)}" for k in ("low", "medium", "high"))
        out = [
            f"batch {self.day} with {self.model}: {self.rows} orders read in {self.seconds:.1f} s",
            f"  scored {self.scored} ({bands}); already scored earlier {self.already_scored}",
            f"  rejected {self.rejected}"
            + (f" -> {self.rejects_file}" if self.rejects_file else ""),
            f"  emails queued {self.emails_queued} (already queued {self.emails_existing}, "
            f"no usable contact {self.no_contact})",
        ]
        return out


@dataclass(frozen=True)
class Scoring:
    """The model as the batch uses it: artifact, version, bands and the email threshold."""

    artifact: ModelArtifact
    version: str
    thresholds: dict[str, float]
    email_threshold: float

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        return self.artifact.predict_frame(frame)


def existing_predictions(db: Database, day: date, version: str) -> set[str]:
    query = select(Prediction.order_id).where(
        Prediction.batch_date == day, Prediction.model_version == version
    )
    with db.engine.connect() as conn:
        return set(conn.execute(query).scalars())


def orders_from_db(db: Database, spec: FeatureSpec, day: date) -> pd.DataFrame:
    """Orders placed on ``day`` as stored: feature snapshot plus contact details."""
    query = select(Order.order_id, Order.dealer_id, Order.features, Order.details).where(
        Order.order_date == day
    )
    with db.engine.connect() as conn:
        rows = conn.execute(query.order_by(Order.order_id)).all()
    records = [{**(r.details or {}), **r.features, spec.id_column: r.order_id} for r in rows]
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        frame = pd.DataFrame(columns=[spec.id_column, *spec.features])
    return frame


def write_rejects(checked: Checked, directory: Path, day: date, name: str) -> str | None:
    if checked.rejects.empty:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{day.isoformat()}-{name}-rejects.csv"
    checked.rejects.to_csv(path, index=False)
    return str(path)


def _json_column(frame: pd.DataFrame, columns: list[str]) -> list[str | None]:
    if not columns:
        return [None] * len(frame)
    text = frame[columns].to_json(orient="records", lines=True, date_format="iso")
    lines: list[str | None] = list(text.splitlines()) if len(frame) else []
    return lines


def store_chunk(
    db: Database,
    spec: FeatureSpec,
    chunk: pd.DataFrame,
    probabilities: np.ndarray,
    scoring: Scoring,
    day: date,
    with_orders: bool,
    summary: BatchSummary,
) -> list[str]:
    """One transaction: orders, predictions, email jobs. Returns the new job ids."""
    now = utcnow()
    sqlite = db.dialect == "sqlite"
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now.isoformat()
    ids = chunk[spec.id_column].astype(str).to_numpy()
    risks = band_array(probabilities, scoring.thresholds)
    n = len(chunk)
    predictions = pa.table(
        {
            "order_id": pa.array(ids, pa.string()),
            "model_version": pa.array([scoring.version] * n, pa.string()),
            "track": pa.array(["stable"] * n, pa.string()),
            "probability": pa.array(probabilities, pa.float64()),
            "risk": pa.array(risks, pa.string()),
            "source": pa.array(["batch"] * n, pa.string()),
            "batch_date": pa.array([day.isoformat()] * n, pa.string()),
            "created_at": pa.array([stamp] * n, pa.string()),
        }
    )
    emailed = probabilities >= scoring.email_threshold
    requests, skipped = email_requests(chunk[emailed], probabilities[emailed])
    summary.no_contact += len(skipped)
    with db.engine.begin() as conn:
        if with_orders:
            contact = [c for c in CONTACT_COLUMNS if c in chunk.columns]
            order_dates = _order_dates(chunk, spec, day)
            dealer = spec.dealer_column
            orders = pa.table(
                {
                    "order_id": pa.array(ids, pa.string()),
                    "dealer_id": pa.array(
                        chunk[dealer].astype(str).to_numpy() if dealer in chunk else [None] * n,
                        pa.string(),
                    ),
                    "features": pa.array(_json_column(chunk, list(spec.features)), pa.string()),
                    "details": pa.array(_json_column(chunk, contact), pa.string()),
                    "order_date": pa.array(order_dates, pa.string()),
                    "created_at": pa.array([stamp] * n, pa.string()),
                }
            )
            bulk.write_orders(conn, orders)
        bulk.write_predictions(conn, predictions)
        created = jobs.create_jobs(
            db,
            conn,
            [
                {
                    "order_id": r.order_id,
                    "campaign_day": day,
                    "request": r.model_dump(mode="json"),
                    "source": "batch",
                }
                for r in requests
            ],
        )
    summary.emails_queued += len(created)
    summary.emails_existing += len(requests) - len(created)
    summary.risk.update(Counter(risks.tolist()))
    return list(created.values())


def _order_dates(chunk: pd.DataFrame, spec: FeatureSpec, day: date) -> list[str]:
    column = spec.time_column
    if column and column in chunk:
        dates = pd.to_datetime(chunk[column], errors="coerce").dt.strftime("%Y-%m-%d")
        return [str(d) for d in dates.fillna(day.isoformat())]
    return [day.isoformat()] * len(chunk)


def run_batch(
    settings: Settings,
    db: Database,
    scoring: Scoring,
    frame: pd.DataFrame,
    day: date,
    *,
    source_name: str,
    with_orders: bool,
    stream: JobStream | None,
    progress: bool = True,
    score: Callable[[pd.DataFrame], np.ndarray] | None = None,
    score_at_once: bool = False,
) -> BatchSummary:
    """Score and store ``frame``; ``score_at_once`` scores every row in one call first (Ray
    Data: one pipeline for the day rather than one per chunk)."""
    from tqdm import tqdm

    started = time.perf_counter()
    spec = scoring.artifact.spec
    summary = BatchSummary(day=day, model=scoring.version, rows=len(frame))
    checked = check(frame, spec, spec.time_column)
    summary.rejected = len(checked.rejects)
    summary.rejects_file = write_rejects(checked, settings.rejects_path, day, source_name)
    done = existing_predictions(db, day, scoring.version)
    valid = checked.valid
    todo = valid[~valid[spec.id_column].isin(done)] if done else valid
    summary.already_scored = len(valid) - len(todo)
    score = score or scoring.probabilities
    chunk_rows = settings.batch_chunk_rows
    if stream is not None:
        stream.ensure_group()
    every = np.asarray(score(todo), dtype=np.float64) if score_at_once and len(todo) else None
    with tqdm(total=len(todo), unit="orders", disable=not progress, desc="scoring") as bar:
        for start in range(0, len(todo), chunk_rows):
            chunk = todo.iloc[start : start + chunk_rows]
            if every is not None:
                probabilities = every[start : start + chunk_rows]
            else:
                probabilities = np.asarray(score(chunk), dtype=np.float64)
            new_jobs = store_chunk(
                db, spec, chunk, probabilities, scoring, day, with_orders, summary
            )
            summary.scored += len(chunk)
            if stream is not None and new_jobs:
                stream.publish(new_jobs)
                jobs.mark_published(db, new_jobs)
                summary.published += len(new_jobs)
            bar.update(len(chunk))
    if stream is not None:  # jobs a killed run stored but never put on the stream
        leftover = jobs.unpublished_jobs(db)
        if leftover:
            stream.publish(leftover)
            jobs.mark_published(db, leftover)
            summary.published += len(leftover)
    summary.seconds = time.perf_counter() - started
    return summary


def summary_json(summary: BatchSummary) -> str:
    out: dict[str, Any] = {**summary.__dict__, "day": summary.day.isoformat()}
    out["risk"] = dict(summary.risk)
    return json.dumps(out)
