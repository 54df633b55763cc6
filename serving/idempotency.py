"""``Idempotency-Key`` on POST routes: a repeat with the same key gets the first answer again.

The answer is stored in the system of record with the SHA-256 of the request body; the same key
with a different body is refused (422), since replaying would answer a different question.
Two requests racing with one new key may both run; the first answer stored is the one replayed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from serving.errors import ApiError
from serving.store.db import Database
from serving.store.models import IdempotencyRecord, utcnow
from serving.store.repository import insert_for

HEADER = "Idempotency-Key"
MAX_KEY = 200


def _lookup(db: Database, key: str, route: str) -> IdempotencyRecord | None:
    with db.session() as session:
        return session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.key == key, IdempotencyRecord.route == route
            )
        ).first()


def _save(db: Database, key: str, route: str, digest: str, status: int, body: Any) -> None:
    stmt = insert_for(db, IdempotencyRecord.__table__).on_conflict_do_nothing(
        index_elements=["key", "route"]
    )
    values = {
        "key": key,
        "route": route,
        "request_sha256": digest,
        "status": status,
        "response": body,
        "created_at": utcnow(),
    }
    with db.engine.begin() as conn:
        conn.execute(stmt, values)


async def idempotent(
    request: Request,
    route: str,
    body: BaseModel,
    run: Callable[[], Awaitable[tuple[int, BaseModel]]],
) -> JSONResponse:
    """Run the route, or replay the stored answer of an earlier request with the same key."""
    key = request.headers.get(HEADER)
    store = getattr(request.app.state, "store", None)
    if not key or store is None:
        status, answer = await run()
        return JSONResponse(answer.model_dump(mode="json"), status)
    if len(key) > MAX_KEY:
        raise ApiError(422, "invalid_idempotency_key", f"{HEADER} is longer than {MAX_KEY}")
    digest = hashlib.sha256(body.model_dump_json(by_alias=True).encode()).hexdigest()
    db: Database = store.db
    found = await asyncio.to_thread(_lookup, db, key, route)
    if found is not None:
        if found.request_sha256 != digest:
            raise ApiError(
                422,
                "idempotency_key_reused",
                f"{HEADER} {key!r} was used for a different request body; use a new key",
            )
        return JSONResponse(found.response, found.status, headers={"Idempotent-Replayed": "true"})
    status, answer = await run()
    payload = answer.model_dump(mode="json")
    if status < 500:
        await asyncio.to_thread(_save, db, key, route, digest, status, payload)
    return JSONResponse(payload, status)
