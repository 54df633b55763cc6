"""Migrations from an empty database on SQLite and PostgreSQL; a schema behind refuses."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from serving.store.db import make_engine
from serving.store.migrate import SchemaBehind, current, ensure_schema, head
from serving.store.models import Base
from serving.store.store import Store
from tests.integration.store.conftest import fresh_pg

pytestmark = pytest.mark.integration
TABLES = {
    "orders",
    "predictions",
    "outcomes",
    "email_jobs",
    "emails",
    "interventions",
    "tracking_events",
    "idempotency_keys",
}


def test_upgrade_from_empty_builds_exactly_the_models(db_url):
    engine = make_engine(db_url)
    assert current(engine) == head()
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []  # a model changed without a migration fails here
    engine.dispose()
    ensure_schema(db_url, create_if_empty=False)  # at head: accepted


def test_a_schema_behind_refuses_to_start_and_names_the_fix(db_url):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    with pytest.raises(SchemaBehind, match=r"at revision 0000.*ocs db upgrade"):
        Store(db_url, create_if_empty=True)


def test_empty_postgresql_is_never_created_silently(pg_server):
    url = fresh_pg(pg_server)
    with pytest.raises(SchemaBehind, match=r"is empty.*ocs db upgrade"):
        Store(url, create_if_empty=True)


def test_empty_sqlite_in_local_mode_starts_at_the_latest_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'first-run.db'}"
    with pytest.raises(SchemaBehind):
        Store(url, create_if_empty=False)
    store = Store(url, create_if_empty=True)
    assert current(store.db.engine) == head()
    store.close()


def test_an_upgrade_waits_for_the_one_already_running_on_postgresql(pg_server, tmp_path):
    """Pods that start together (the Ray head's init container, a worker, a CronJob) all run
    `ocs db upgrade`; on PostgreSQL they take turns on an advisory lock. Here the test holds
    the lock, as a running migration would: a real `ocs db upgrade` waits, then finishes."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from serving.store.migrations.env_lock import MIGRATION_LOCK

    url = fresh_pg(pg_server)
    root = Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCS_")}
    env |= {"PYTHONPATH": str(root), "OCS_DATABASE_URL": url, "OCS_STATE_DIR": str(tmp_path)}
    engine = make_engine(url)
    holder = engine.connect()
    holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    holder.commit()
    proc = subprocess.Popen(
        [sys.executable, "-m", "serving", "db", "upgrade"], env=env, cwd=tmp_path, text=True
    )
    try:
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        deadline = time.monotonic() + 120
        while holder.execute(text(waiting)).scalar_one() == 0:
            assert proc.poll() is None, "the upgrade ran without waiting for the lock"
            assert time.monotonic() < deadline, "the upgrade never asked for the lock"
            time.sleep(0.1)
        assert current(engine) is None  # nothing migrated while the lock is held
    finally:
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        holder.close()
    assert proc.wait(120) == 0
    assert current(engine) == head()
    engine.dispose()
