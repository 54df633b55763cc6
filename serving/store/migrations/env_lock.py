"""The advisory lock key of migrations on PostgreSQL.

Pods that start together (the Ray head's init container, workers, CronJobs) may all run
`ocs db upgrade`: on PostgreSQL they take turns on this lock inside the migration transaction,
and whoever comes second finds the schema at head. SQLite files are serialized with a file
lock in ``serving.store.migrate``.
"""

MIGRATION_LOCK = 0x6F6373  # "ocs"
