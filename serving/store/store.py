"""The store object that services, the batch and the worker share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from serving.config import Mode, Settings
from serving.store import repository
from serving.store.db import Database
from serving.store.jobs import SqlEmailStore
from serving.store.migrate import ensure_schema
from training.spec import FeatureSpec


class Store:
    """The system of record at ``url``; refuses a schema that is behind (``SchemaBehind``)."""

    def __init__(self, url: str, *, create_if_empty: bool = False, check: bool = True):
        if check:
            ensure_schema(url, create_if_empty=create_if_empty)
        self.db = Database(url)
        self.emails = SqlEmailStore(self.db)

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """Local mode creates an empty SQLite database at the latest schema for a first run."""
        create = settings.mode is Mode.local and settings.database_auto_create
        return cls(settings.database, create_if_empty=create)

    def record_outcomes(
        self, items: list[tuple[str, str, datetime | None]]
    ) -> repository.OutcomeReport:
        return repository.record_outcomes(self.db, items)

    def prediction_outcomes(self, since: datetime | None = None) -> pd.DataFrame:
        """One row per order with an outcome: its latest prediction and what happened.

        Columns: order_id, model_version, track, probability, risk, predicted_at, outcome,
        occurred_at (times in UTC).
        """
        return repository.prediction_outcomes(self.db, since)

    def training_frame(self, spec: FeatureSpec) -> pd.DataFrame:
        """Feature snapshots of orders with an outcome: the spec's raw input columns, the
        spec's label column (1 = cancelled, 0 = fulfilled) and ``order_date``."""
        return repository.training_frame(self.db, spec)

    def recent_orders(self, spec: FeatureSpec, days: float = 7.0) -> pd.DataFrame:
        """Feature snapshots of the orders scored in the last ``days`` (drift checks)."""
        return repository.recent_orders(self.db, spec, datetime.now(UTC) - timedelta(days=days))

    def close(self) -> None:
        self.db.dispose()
