"""Email cache: Redis when configured, else in-process; a Redis outage is a miss, never an error."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)
Lookup = Literal["hit", "miss", "bypass"]


def cache_key(engine: str, model: str, prompt_hash: str, context_hash: str) -> str:
    raw = "\x1f".join((engine, model, prompt_hash, context_hash))
    return "ocs:email:cache:" + hashlib.sha256(raw.encode()).hexdigest()


class EmailCache(Protocol):
    async def get(self, key: str) -> tuple[Lookup, dict[str, Any] | None]: ...

    async def set(self, key: str, value: dict[str, Any]) -> bool: ...

    async def close(self) -> None: ...


class MemoryCache:
    """Bounded LRU with a TTL, for one process (tests, laptops, a single replica)."""

    def __init__(self, ttl_s: float, max_items: int = 10_000):
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def get(self, key: str) -> tuple[Lookup, dict[str, Any] | None]:
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            self._items.pop(key, None)
            return "miss", None
        self._items.move_to_end(key)
        return "hit", json.loads(item[1])

    async def set(self, key: str, value: dict[str, Any]) -> bool:
        self._items[key] = (time.monotonic() + self.ttl_s, json.dumps(value))
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
        return True

    async def close(self) -> None:
        self._items.clear()


class RedisCache:
    """Shared by every replica. Short timeouts: a slow Redis must not slow the email down."""

    def __init__(self, url: str, ttl_s: int, timeout_s: float = 0.25):
        import redis.asyncio as redis

        self.ttl_s = ttl_s
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )

    async def get(self, key: str) -> tuple[Lookup, dict[str, Any] | None]:
        from redis.exceptions import RedisError

        try:
            raw = await self._redis.get(key)
        except (RedisError, OSError) as exc:
            log.warning("email cache bypassed, Redis unavailable: %s", exc)
            return "bypass", None
        if raw is None:
            return "miss", None
        value: dict[str, Any] = json.loads(raw)
        return "hit", value

    async def set(self, key: str, value: dict[str, Any]) -> bool:
        from redis.exceptions import RedisError

        try:
            await self._redis.set(key, json.dumps(value), ex=self.ttl_s)
        except (RedisError, OSError) as exc:
            log.warning("email not cached, Redis unavailable: %s", exc)
            return False
        return True

    async def close(self) -> None:
        await self._redis.aclose()


def build_cache(redis_url: str, ttl_s: int) -> EmailCache:
    return RedisCache(redis_url, ttl_s) if redis_url else MemoryCache(ttl_s)
