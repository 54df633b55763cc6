"""Where emails are kept for ``GET /v1/emails/{id}``: in-process, or Redis when configured.

A small interface on purpose: the SQL store of a later issue implements the same two methods.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Protocol

from serving.email.schemas import EmailDraft

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    pass


class EmailStore(Protocol):
    async def put(self, email: EmailDraft) -> None: ...

    async def get(self, email_id: str) -> EmailDraft | None: ...

    async def close(self) -> None: ...


class MemoryStore:
    def __init__(self, max_items: int = 100_000):
        self.max_items = max_items
        self._items: OrderedDict[str, EmailDraft] = OrderedDict()

    async def put(self, email: EmailDraft) -> None:
        self._items[email.id] = email
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    async def get(self, email_id: str) -> EmailDraft | None:
        return self._items.get(email_id)

    async def close(self) -> None:
        return None


class RedisStore:
    """Emails in Redis for every replica; while Redis is down, kept in this process meanwhile."""

    def __init__(self, url: str, ttl_s: int, timeout_s: float = 0.5):
        import redis.asyncio as redis

        self.ttl_s = ttl_s
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._local = MemoryStore(10_000)

    @staticmethod
    def _key(email_id: str) -> str:
        return f"ocs:email:{email_id}"

    async def put(self, email: EmailDraft) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.set(self._key(email.id), email.model_dump_json(), ex=self.ttl_s)
        except (RedisError, OSError) as exc:
            log.warning("email %s kept in process only, Redis unavailable: %s", email.id, exc)
            await self._local.put(email)

    async def get(self, email_id: str) -> EmailDraft | None:
        from redis.exceptions import RedisError

        local = await self._local.get(email_id)
        if local is not None:
            return local
        try:
            raw = await self._redis.get(self._key(email_id))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis unavailable, try again: {exc}") from exc
        return EmailDraft.model_validate(json.loads(raw)) if raw else None

    async def close(self) -> None:
        await self._redis.aclose()


def build_store(redis_url: str, ttl_s: int) -> EmailStore:
    return RedisStore(redis_url, ttl_s) if redis_url else MemoryStore()
