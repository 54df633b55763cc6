"""`ocs db`: the schema of the system of record (issue 5)."""

from __future__ import annotations

import typer

from serving.cli_common import fail, settings

db_app = typer.Typer(help="The system of record (SQL): migrations", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Option("head", help="target revision; default: the latest"),
) -> None:
    """Apply migrations up to the latest schema (or REVISION)."""
    from sqlalchemy.exc import SQLAlchemyError

    from serving.store.db import make_engine
    from serving.store.migrate import current, upgrade

    url = settings().database
    try:
        upgrade(url, revision)
        engine = make_engine(url)
        now = current(engine)
        engine.dispose()
    except SQLAlchemyError as exc:
        fail(f"cannot migrate {_where(url)}: {exc}")
    typer.echo(f"database {_where(url)} is at revision {now}")


@db_app.command("current")
def db_current() -> None:
    """The database's revision and the one this code needs; exit 1 when it is behind."""
    from sqlalchemy.exc import SQLAlchemyError

    from serving.store.db import make_engine
    from serving.store.migrate import current, head

    url = settings().database
    try:
        engine = make_engine(url)
        have = current(engine)
        engine.dispose()
    except SQLAlchemyError as exc:
        fail(f"cannot read {_where(url)}: {exc}")
    want = head()
    typer.echo(f"database {_where(url)}: revision {have or 'none (empty)'}; code needs {want}")
    if have != want:
        typer.echo("behind: run `ocs db upgrade`")
        raise typer.Exit(1)


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
