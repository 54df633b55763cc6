"""`ocs worker`: the email job consumer, and what it could not do (issue 5)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from typing import Annotated

import typer

from serving.cli_common import fail, settings
from serving.config import Settings

worker_app = typer.Typer(
    help="Email worker: consumes the job stream (Redis), stores drafts",
    invoke_without_command=True,
)


def _stream(s: Settings):  # type: ignore[no-untyped-def]
    from serving.jobs.stream import JobStream

    if not s.redis_url:
        fail("the email queue needs Redis: set OCS_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    return JobStream.from_url(s.redis_url, s.queue_stream, s.queue_group)


def _store(s: Settings):  # type: ignore[no-untyped-def]
    from serving.store.migrate import StoreError
    from serving.store.store import Store

    try:
        return Store.from_settings(s)
    except StoreError as exc:
        fail(str(exc))


@worker_app.callback()
def worker(
    ctx: typer.Context,
    drain: Annotated[
        bool, typer.Option("--drain", help="stop once no job is left (pending ones included)")
    ] = False,
) -> None:
    """Consume email jobs until SIGTERM/SIGINT (the job in hand is finished first)."""
    if ctx.invoked_subcommand is not None:
        return
    from serving.jobs.worker import Worker

    s = settings()
    logging.basicConfig(level=s.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stream, store = _stream(s), _store(s)
    runner = Worker(s, store.db, stream)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runner.stop)
        stats = await runner.run(drain=drain)
        typer.echo(
            f"worker {runner.consumer}: {stats.done} done, {stats.retried} retried, "
            f"{stats.dead_letters} dead letters, {stats.skipped} already done"
        )

    typer.echo(f"worker {runner.consumer} on stream {s.queue_stream} (group {s.queue_group})")
    try:
        asyncio.run(main())
    finally:
        stream.close()
        store.close()


@worker_app.command("dead-letters")
def dead_letters(
    count: Annotated[int, typer.Option(min=1, help="newest first")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Jobs that failed every attempt, with their errors."""
    s = settings()
    stream = _stream(s)
    rows = stream.dead_letters(count)
    stream.close()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo(f"no dead letters on {stream.dead}")
        return
    for row in rows:
        typer.echo(f"{row['id']}  {row['job']}  attempts={row['attempts']}  {row['error']}")


@worker_app.command("requeue")
def requeue(
    job_ids: Annotated[
        list[str] | None, typer.Argument(help="job ids; none: every failed job")
    ] = None,
) -> None:
    """Put failed (dead-lettered) jobs back on the queue with fresh attempts."""
    from serving.store import jobs

    s = settings()
    stream, store = _stream(s), _store(s)
    try:
        wanted = job_ids or [j.id for j in jobs.failed_jobs(store.db, limit=100_000)]
        done = jobs.requeue(store.db, wanted)
        if done:
            stream.ensure_group()
            stream.publish(done)
            jobs.mark_published(store.db, done)
    finally:
        stream.close()
        store.close()
    skipped = sorted(set(wanted) - set(done))
    typer.echo(
        f"requeued {len(done)} jobs" + (f"; not failed or unknown: {skipped}" if skipped else "")
    )


@worker_app.command("status")
def status() -> None:
    """Queue depth, pending jobs, the oldest job's age and the dead-letter count."""
    s = settings()
    stream = _stream(s)
    stats = stream.stats()
    stream.close()
    typer.echo(
        f"stream {s.queue_stream}: {stats.undelivered} waiting, {stats.pending} pending, "
        f"oldest {stats.oldest_age_s:.1f} s, {stats.dead_letters} dead letters"
    )
