"""Bulk writes of the batch: COPY on PostgreSQL, one executemany on SQLite; no ORM objects.

Columns arrive as a pyarrow table; on PostgreSQL it is streamed as CSV (pyarrow's C++ writer)
into ``COPY``. Orders go through a temporary table so that a known order is updated.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection

ORDER_COLUMNS = ["order_id", "dealer_id", "features", "details", "order_date", "created_at"]
PREDICTION_COLUMNS = [
    "order_id",
    "model_version",
    "track",
    "probability",
    "risk",
    "source",
    "batch_date",
    "created_at",
]


def _csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    pacsv.write_csv(table, sink, write_options=options)
    return sink.getvalue()


def _copy(conn: Connection, sql: str, table: pa.Table) -> None:
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        copy.write(_csv(table))


def write_orders(conn: Connection, table: pa.Table) -> None:
    """Upsert orders; ``features`` and ``details`` are JSON text already."""
    table = table.select(ORDER_COLUMNS)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "CREATE TEMP TABLE IF NOT EXISTS batch_orders "
            "(order_id text, dealer_id text, features json, details json, order_date date, "
            "created_at timestamptz) ON COMMIT DELETE ROWS"
        )
        columns = ", ".join(ORDER_COLUMNS)
        _copy(conn, f"COPY batch_orders ({columns}) FROM STDIN (FORMAT csv)", table)
        conn.exec_driver_sql(
            f"INSERT INTO orders ({columns}) SELECT {columns} FROM batch_orders "
            "ON CONFLICT (order_id) DO UPDATE SET features = EXCLUDED.features, "
            "details = COALESCE(EXCLUDED.details, orders.details), "
            "dealer_id = COALESCE(EXCLUDED.dealer_id, orders.dealer_id), "
            "order_date = COALESCE(orders.order_date, EXCLUDED.order_date)"
        )
        conn.exec_driver_sql("TRUNCATE batch_orders")
        return
    conn.exec_driver_sql(
        f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (order_id) DO UPDATE SET features = excluded.features, "
        "details = COALESCE(excluded.details, orders.details), "
        "dealer_id = COALESCE(excluded.dealer_id, orders.dealer_id), "
        "order_date = COALESCE(orders.order_date, excluded.order_date)",
        _rows(table),
    )


def write_predictions(conn: Connection, table: pa.Table) -> None:
    table = table.select(PREDICTION_COLUMNS)
    columns = ", ".join(PREDICTION_COLUMNS)
    if conn.dialect.name == "postgresql":
        _copy(conn, f"COPY predictions ({columns}) FROM STDIN (FORMAT csv)", table)
        return
    marks = ", ".join("?" for _ in PREDICTION_COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO predictions ({columns}) VALUES ({marks})", _rows(table))


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*columns, strict=True))
