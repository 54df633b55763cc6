"""The one place `ocs` commands reach the SQL store for drift, accuracy and retraining data.

The store (`serving/store/`, issue 5) provides the two methods these commands rely on (see the
contract): ``prediction_outcomes(since)`` and ``training_frame(spec)``. Until it is there, the
commands that need it fail with a message instead of a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

from serving.cli_common import fail
from serving.config import Settings


def open_store(s: Settings) -> Any:
    """The store of ``s.database_url``; exits with a clear message where there is no store."""
    try:
        store = importlib.import_module("serving.store")  # issue 5's package, absent before it
    except ImportError as exc:
        fail(
            f"the SQL store is not available in this build ({exc}): pass --data PATH "
            "(a .csv or .parquet file) instead of --from-db"
        )
    return store.open_store(s)  # wired at merge with issue 5's constructor
