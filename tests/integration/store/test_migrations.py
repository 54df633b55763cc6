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
