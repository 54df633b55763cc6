"""Records /v1/predict answers off the hot path: a writer thread inserts them in batches.

``record`` only appends to a queue; ``close`` (application shutdown) writes what is left, so a
clean shutdown loses nothing. A failed insert is retried with the next batch, then logged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

from serving.store.db import Database
from serving.store.models import utcnow
from serving.store.repository import insert_predictions, upsert_orders

log = logging.getLogger(__name__)
_STOP = object()


class PredictionRecorder:
    def __init__(self, db: Database, flush_s: float = 0.5, max_batch: int = 2000):
        self.db = db
        self.flush_s = flush_s
        self.max_batch = max_batch
        self._queue: queue.Queue[Any] = queue.Queue()
        self._closed = False
        self.written = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="prediction-recorder", daemon=True)
        self._thread.start()

    def record(
        self,
        orders: list[dict[str, Any]],
        predictions: list[dict[str, Any]],
    ) -> None:
        """Orders (order_id, dealer_id, features) and their predictions; returns at once."""
        if self._closed:
            raise RuntimeError("prediction recorder is closed")
        self._queue.put((orders, predictions))

    def _run(self) -> None:
        pending: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
        rows = 0
        deadline = time.monotonic() + self.flush_s
        stop = False
        while not stop:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
                if item is _STOP:
                    stop = True
                else:
                    pending.append(item)
                    rows += len(item[1])
            except queue.Empty:
                pass
            if pending and (stop or rows >= self.max_batch or time.monotonic() >= deadline):
                self._write(pending)
                pending, rows = [], 0
            if time.monotonic() >= deadline:
                deadline = time.monotonic() + self.flush_s

    def _write(self, batch: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> None:
        orders: dict[str, dict[str, Any]] = {}
        predictions: list[dict[str, Any]] = []
        for order_rows, prediction_rows in batch:
            for row in order_rows:
                orders[row["order_id"]] = row  # the latest snapshot of an order wins
            predictions += prediction_rows
        for attempt in (1, 2, 3):
            try:
                with self.db.engine.begin() as conn:
                    upsert_orders(self.db, conn, list(orders.values()))
                    insert_predictions(conn, predictions)
                self.written += len(predictions)
                return
            except Exception as exc:  # the database may be restarting; the API keeps answering
                log.warning(
                    "recording %d predictions failed (%d/3): %s", len(predictions), attempt, exc
                )
                time.sleep(0.2 * attempt)
        self.failed += len(predictions)
        log.error("%d predictions were not recorded", len(predictions))

    def close(self) -> None:
        """Write everything queued, then stop; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()


def api_rows(
    orders: list[Any], predictions: list[Any], request_id: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for the recorder from a PredictRequest's orders and the answered predictions."""
    now = utcnow()
    today = datetime.now(UTC).date()
    order_rows = [
        {
            "order_id": o.order_id,
            "dealer_id": o.dealer_id,
            "features": o.features,
            "order_date": today,
            "created_at": now,
        }
        for o in orders
    ]
    prediction_rows = [
        {
            "order_id": p.order_id,
            "model_version": p.model_version,
            "track": p.track,
            "probability": p.probability,
            "risk": p.risk,
            "factors": [f.model_dump(mode="json") for f in p.factors] if p.factors else None,
            "request_id": request_id,
            "source": "api",
            "batch_date": None,
            "created_at": now,
        }
        for p in predictions
    ]
    return order_rows, prediction_rows
