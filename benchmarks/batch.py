"""The daily batch, end to end and at scale, beside scikit-learn's HistGradientBoosting.

1. A 1,000-order synthetic day end to end: ``run_batch`` (validate, score, store orders and
   predictions, queue email jobs) then ``ocs worker``'s loop with the template engine until the
   queue drains. PostgreSQL and Redis on 127.0.0.1 when they answer (a throwaway database and
   stream), else SQLite and no queue.
2. Scoring throughput on 1,000,000 synthetic orders: read the Parquet file, validate, the
   served model's feature path, the torch model, write the predictions as Parquet
   (``ocs batch score``). Side by side: HistGradientBoosting (fitted on the same training
   orders with the same encoding) predicting the same encoded rows, with the same threads.
3. The database write rate of the batch path (orders and predictions, COPY on PostgreSQL) on
   ``--db-rows`` orders, to say what storing a million would take.

    .venv/bin/python benchmarks/batch.py [--rows 1000000] [--threads 1] [--repeats 2]

The last lines are ``scored_1m_seconds <s>`` and ``hgb_1m_seconds <s>`` (best of repeats).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serving.batch.export import score_to_parquet  # noqa: E402
from serving.batch.run import Scoring, run_batch  # noqa: E402
from serving.batch.scoring import load_scoring  # noqa: E402
from serving.config import Settings, load_settings  # noqa: E402
from serving.store.db import Database  # noqa: E402
from serving.store.migrate import upgrade  # noqa: E402
from training import synth  # noqa: E402
from training.pipeline import register  # noqa: E402
from training.registry import Registry  # noqa: E402
from training.spec import load_spec  # noqa: E402
from training.train import TrainParams, train  # noqa: E402

PG_ADMIN = "host=127.0.0.1 user=postgres dbname=postgres connect_timeout=3"
REDIS = "redis://127.0.0.1:6379/0"
DAY = date(2026, 12, 3)


@contextmanager
def database(tmp: Path) -> Iterator[str]:
    """A throwaway PostgreSQL database when the server answers, else an SQLite file."""
    try:
        import psycopg

        name = f"ocs_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"PostgreSQL unavailable ({exc}); using SQLite")
        url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        upgrade(url)
        yield url
        return
    url = f"postgresql://postgres@127.0.0.1/{name}"
    upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
        return REDIS
    except Exception as exc:
        print(f"Redis unavailable ({exc}); the day runs without a queue")
        return ""


def daily_batch(settings: Settings, scoring: Scoring, tmp: Path) -> None:
    from serving.jobs.stream import JobStream
    from serving.jobs.worker import Worker

    orders = synth.generate(1000, seed=11)
    url_redis = redis_url()
    stream_name = f"ocs-bench:{uuid.uuid4().hex[:8]}:email-jobs"
    with database(tmp) as url:
        s = settings.model_copy(
            update={"database_url": url, "redis_url": url_redis, "queue_stream": stream_name}
        )
        db = Database(url)
        stream = JobStream.from_url(url_redis, stream_name, s.queue_group) if url_redis else None
        started = time.perf_counter()
        summary = run_batch(
            s,
            db,
            scoring,
            orders,
            DAY,
            source_name="day",
            with_orders=True,
            stream=stream,
            progress=False,
        )
        batch_s = time.perf_counter() - started
        worker_s, done = 0.0, 0
        if stream is not None:
            started = time.perf_counter()
            done = asyncio.run(Worker(s, db, stream).run(drain=True)).done
            worker_s = time.perf_counter() - started
            stream.client.delete(stream_name, f"{stream_name}:dead")
            stream.close()
        db.dispose()
    kind = url.split(":", 1)[0]
    print(f"daily batch, 1,000 orders ({kind}{', redis' if url_redis else ''}):")
    for line in summary.lines():
        print("  " + line)
    print(f"  batch {batch_s:.2f} s, worker drained {done} emails in {worker_s:.2f} s")
    print(f"day_1k_batch_seconds {batch_s:.3f}")
    print(f"day_1k_worker_seconds {worker_s:.3f}")


def db_write_rate(settings: Settings, scoring: Scoring, rows: int, tmp: Path) -> None:
    frame = synth.generate(rows, seed=13)
    no_emails = Scoring(scoring.artifact, scoring.version, scoring.thresholds, 2.0)
    with database(tmp) as url:
        s = settings.model_copy(update={"database_url": url})
        db = Database(url)
        started = time.perf_counter()
        run_batch(
            s,
            db,
            no_emails,
            frame,
            DAY,
            source_name="rate",
            with_orders=True,
            stream=None,
            progress=False,
        )
        seconds = time.perf_counter() - started
        db.dispose()
    print(
        f"batch into {url.split(':', 1)[0]}: {rows} orders with snapshots and predictions in "
        f"{seconds:.2f} s ({rows / seconds:,.0f} orders/s; a million would take "
        f"~{1e6 / (rows / seconds):.0f} s)"
    )
    print(f"db_batch_rows_per_second {rows / seconds:.0f}")


def hgb_yardstick(settings: Settings, scoring: Scoring, train_df, big, repeats: int) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier

    pre = scoring.artifact.preprocessor
    spec = scoring.artifact.spec

    def matrix(df):
        enc = pre.transform(df)
        return np.hstack([enc.numeric, enc.categorical.astype(np.float32)])

    n_num = len(pre.numeric_columns)
    x_train = matrix(train_df)
    y_train = (train_df[spec.label.column] == spec.label.positive).to_numpy()
    cats = np.zeros(x_train.shape[1], dtype=bool)
    cats[n_num:] = True
    model = HistGradientBoostingClassifier(categorical_features=cats, random_state=0)
    model.fit(x_train, y_train)
    x_big = matrix(big)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_proba(x_big)
        best = min(best, time.perf_counter() - started)
    print(f"hgb: {model.n_iter_} iterations, predict on {len(x_big):,} encoded rows {best:.2f} s")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db-rows", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1, help="torch and HGB threads")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-day", action="store_true")
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    tmp = Path(tempfile.mkdtemp(prefix="ocs-bench-batch-"))
    spec = load_spec("dealer_orders")
    train_df = synth.generate(6000, seed=3)
    result = train(train_df, spec, TrainParams(epochs=8, patience=3), progress=False)
    state = tmp / "state"
    register(result, Registry(state / "registry"), source="benchmark")
    settings = load_settings(
        state_dir=state,
        email_engine="template",
        torch_threads=args.threads,
        batch_rejects_dir=tmp / "rejects",
    )
    scoring = load_scoring(settings)
    print(f"model {scoring.version}: {scoring.artifact.net.config}")
    if not args.skip_day:
        daily_batch(settings, scoring, tmp)
        db_write_rate(settings, scoring, args.db_rows, tmp)

    print(f"generating {args.rows:,} synthetic orders (not timed) ...", flush=True)
    big = synth.generate(args.rows, seed=5)
    source = tmp / "orders.parquet"
    big.to_parquet(source, index=False)
    best, parts = float("inf"), {}
    for _ in range(args.repeats):
        times = score_to_parquet(scoring, source, tmp / "scored.parquet")
        if times.total() < best:
            best, parts = times.total(), times.seconds
    breakdown = ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
    print(
        f"ocs batch score, {args.rows:,} orders: {best:.2f} s ({breakdown}), "
        f"{args.rows / best:,.0f} orders/s, torch threads {args.threads}"
    )
    with threadpool_limits(args.threads):
        hgb = hgb_yardstick(settings, scoring, train_df, big, args.repeats)
    scale = 1_000_000 / args.rows
    print(
        f"ratio_hgb_over_ocs {hgb / best:.2f}  (above 1: the full batch path is faster than "
        "HistGradientBoosting's predict alone)"
    )
    print(f"scored_1m_seconds {best * scale:.3f}")
    print(f"hgb_1m_seconds {hgb * scale:.3f}")


if __name__ == "__main__":
    main()
