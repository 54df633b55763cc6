"""Alembic migrations, driven from code: ``ocs db upgrade`` and the start-up schema check."""

from __future__ import annotations

import fcntl
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from serving.store.db import is_sqlite, make_engine, normalize_url

MIGRATIONS = Path(__file__).parent / "migrations"


class StoreError(RuntimeError):
    """The system of record can't be used; the message says why and what to do."""


class SchemaBehind(StoreError):
    """The database is not at the revision this code needs; the message says what to run."""


class DatabaseUnavailable(StoreError):
    pass


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a password must be doubled
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    with _lock(url):
        command.upgrade(alembic_config(url), revision)


def ensure_schema(url: str, *, create_if_empty: bool) -> None:
    """Refuse a schema that is behind; create an empty SQLite at head when allowed (local mode).

    Raises:
        SchemaBehind: with the revisions and the command that fixes it.
    """
    engine = make_engine(url)
    where = make_url(normalize_url(url)).render_as_string(hide_password=True)
    try:
        want = head()
        try:
            have = current(engine)
        except DBAPIError as exc:
            raise DatabaseUnavailable(
                f"cannot reach database {where} (OCS_DATABASE_URL): {exc.orig}"
            ) from exc
        if have == want:
            return
        empty = have is None and not inspect(engine).get_table_names()
        if empty and create_if_empty and is_sqlite(url):
            upgrade(url)
            return
        state = "empty" if have is None else f"at revision {have}"
        raise SchemaBehind(
            f"database {where} is {state}, this code needs revision {want}: "
            "run `ocs db upgrade` (with the same OCS_DATABASE_URL) first"
        )
    finally:
        engine.dispose()


class _lock:
    """Serializes migrations of one SQLite file between processes (Gateway, worker, batch)."""

    def __init__(self, url: str):
        database = make_url(normalize_url(url)).database if is_sqlite(url) else None
        self.path = (
            Path(f"{database}.migrate.lock") if database and database != ":memory:" else None
        )
        self.fd: int | None = None

    def __enter__(self) -> None:
        if self.path is not None:
            import os

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        if self.fd is not None:
            import os

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
