"""The one place `ocs` commands reach the SQL store for drift, accuracy and retraining data.

The store (`serving/store/`) provides what these commands read: ``prediction_outcomes(since)``,
``training_frame(spec)`` and ``recent_orders(spec, days)``. A database that can't be reached or
whose schema is behind ends the command with a message instead of a traceback.
"""

from __future__ import annotations

from typing import Any

from serving.cli_common import fail
from serving.config import Settings


def open_store(s: Settings) -> Any:
    """The store of ``s.database_url``; exits with a clear message where it can't be used."""
    from serving.store.migrate import StoreError
    from serving.store.store import Store

    try:
        return Store.from_settings(s)
    except StoreError as exc:
        fail(str(exc))
