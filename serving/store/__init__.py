"""The system of record: orders, predictions, outcomes, email jobs and emails (SQLAlchemy 2).

PostgreSQL in production, SQLite as the embedded default; Alembic migrations in ``migrations/``.
"""
