"""Real PostgreSQL and Redis for the store, queue and batch tests (skipped when absent).

Each session gets its own throwaway PostgreSQL database, dropped at the end; each test gets
its own Redis stream names, deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN):
            return None
    except Exception as exc:
        return f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A fresh PostgreSQL database for this session: its SQLAlchemy URL."""
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    import psycopg

    name = f"ocs_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_pg(base: str) -> str:
    """Another empty database next to the session's (for tests that need their own)."""
    import psycopg

    name = f"ocs_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _created.append(name)
    return base.rsplit("/", 1)[0] + f"/{name}"


_created: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _drop_extra_databases() -> Iterator[None]:
    yield
    if not _created:
        return
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in _created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind, migrated to the latest schema."""
    from serving.store.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ocs.db'}"
    else:
        url = fresh_pg(request.getfixturevalue("pg_server"))
    upgrade(url)
    return url


@pytest.fixture
def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        pytest.skip(f"Redis on 127.0.0.1:6379 is not reachable: {exc}")
    return REDIS_URL


@pytest.fixture
def stream_name(redis_url: str) -> Iterator[str]:
    """Stream names of this test only; deleted afterwards."""
    import redis

    name = f"ocs-test:{uuid.uuid4().hex[:12]}:email-jobs"
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name, f"{name}:dead")
    client.close()
