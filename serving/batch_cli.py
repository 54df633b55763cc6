"""`ocs batch run`: score the day's orders, store them, queue the emails (issue 5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from serving.cli_common import fail, settings

batch_app = typer.Typer(help="The daily batch", no_args_is_help=True)


def _day(text: str | None, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--date {text!r}: expected YYYY-MM-DD")


@batch_app.command("run")
def batch_run(
    input_path: Annotated[
        Path | None, typer.Option("--input", help="the day's orders, .csv or .parquet")
    ] = None,
    from_db: Annotated[
        bool, typer.Option("--from-db", help="score orders stored for --date (the default)")
    ] = False,
    day_text: Annotated[
        str | None,
        typer.Option(
            "--date", help="campaign day YYYY-MM-DD; default today, with --from-db yesterday (UTC)"
        ),
    ] = None,
    use_ray: Annotated[
        bool, typer.Option("--ray", help="score with Ray Data (map_batches); same scores")
    ] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Score the day's orders with the served model; store predictions; queue emails.

    Bad rows go to a rejects file with reasons. Killed and run again, it finishes the day
    without duplicates.
    """
    from serving.batch.run import orders_from_db, run_batch, summary_json
    from serving.batch.scoring import load_scoring, ray_scorer
    from serving.batch.validate import InputError, read_orders
    from serving.batch_metrics import push_batch
    from serving.jobs.stream import JobStream
    from serving.store.migrate import StoreError
    from serving.store.store import Store
    from training.registry import RegistryError

    if input_path is not None and from_db:
        fail("give --input PATH or --from-db, not both")
    s = settings()
    today = datetime.now(UTC).date()
    day = _day(day_text, today if input_path is not None else today - timedelta(days=1))
    try:
        store = Store.from_settings(s)
    except StoreError as exc:
        fail(str(exc))
    try:
        scoring = load_scoring(s)
    except RegistryError as exc:
        fail(str(exc))
    try:
        if input_path is not None:
            frame, name = read_orders(str(input_path)), input_path.stem
        else:
            frame, name = orders_from_db(store.db, scoring.artifact.spec, day), "db"
    except InputError as exc:
        fail(str(exc))
    stream = JobStream.from_url(s.redis_url, s.queue_stream, s.queue_group) if s.redis_url else None
    score = ray_scorer(scoring) if use_ray else None
    try:
        summary = run_batch(
            s,
            store.db,
            scoring,
            frame,
            day,
            source_name=name,
            with_orders=input_path is not None,
            stream=stream,
            progress=progress and not as_json,
            score=score,
            score_at_once=use_ray,
        )
    except InputError as exc:
        fail(str(exc))
    finally:
        if stream is not None:
            stream.close()
        store.close()
    push_batch(s.pushgateway_url, summary)
    if as_json:
        typer.echo(summary_json(summary))
        return
    for line in summary.lines():
        typer.echo(line)
    if stream is None and summary.emails_queued:
        typer.echo(
            "  OCS_REDIS_URL is unset: the jobs wait in the store; `ocs worker` publishes them"
        )


@batch_app.command("score")
def batch_score(
    input_path: Annotated[Path, typer.Option("--input", help=".csv or .parquet of orders")],
    output: Annotated[Path, typer.Option("--output", help="predictions, .parquet")],
) -> None:
    """Score a large file straight to Parquet (no database, no emails): back-fills, exports."""
    from serving.batch.export import score_to_parquet
    from serving.batch.scoring import load_scoring
    from serving.batch.validate import InputError
    from training.registry import RegistryError

    s = settings()
    try:
        scoring = load_scoring(s)
        rejects = output.with_name(output.stem + "-rejects.csv")
        times = score_to_parquet(scoring, input_path, output, rejects)
    except (RegistryError, InputError) as exc:
        fail(str(exc))
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in times.seconds.items())
    typer.echo(f"scored {times.scored} of {times.rows} orders in {times.total():.2f} s ({parts})")
    typer.echo(f"predictions {output}")
    if times.rejected:
        typer.echo(f"rejected {times.rejected} -> {rejects}")
