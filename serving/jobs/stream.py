"""Email jobs on a Redis Stream: a consumer group delivers each entry to one worker.

Entries carry only the job id; the job itself (request, status, attempts, error) is in the
store. An entry stays pending until its worker acknowledges it; a worker that dies leaves it
pending, and ``reclaim`` (XAUTOCLAIM) hands it to a live worker after ``claim_idle_s``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import ResponseError


@dataclass(frozen=True)
class Entry:
    id: str
    job_id: str


@dataclass(frozen=True)
class StreamStats:
    undelivered: int
    pending: int
    oldest_age_s: float
    dead_letters: int


def _entries(raw: Any) -> list[Entry]:
    out = []
    for entry_id, fields in raw or []:
        if fields is None:  # deleted meanwhile (XAUTOCLAIM reports those as nil)
            continue
        out.append(Entry(_s(entry_id), _s(fields.get(b"job") or fields.get("job") or b"")))
    return out


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _age_s(entry_id: str) -> float:
    return max(0.0, time.time() - int(entry_id.split("-")[0]) / 1000)


class JobStream:
    def __init__(self, client: redis.Redis, stream: str, group: str):
        self.client = client
        self.stream = stream
        self.group = group
        self.dead = f"{stream}:dead"

    @classmethod
    def from_url(cls, url: str, stream: str, group: str) -> JobStream:
        return cls(redis.Redis.from_url(url, socket_timeout=30), stream, group)

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def publish(self, job_ids: list[str]) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.xadd(self.stream, {"job": job_id})
            pipe.execute()

    def read(self, consumer: str, count: int, block_ms: int) -> list[Entry]:
        """New entries for this consumer (blocks up to ``block_ms`` when there are none)."""
        raw: Any = self.client.xreadgroup(
            self.group, consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        return _entries(raw[0][1]) if raw else []

    def reclaim(self, consumer: str, idle_s: float, count: int) -> list[Entry]:
        """Entries another consumer got and has not acknowledged for ``idle_s``: it died."""
        result = self.client.xautoclaim(
            self.stream, self.group, consumer, int(idle_s * 1000), "0-0", count=count
        )
        return _entries(result[1])

    def touch(self, consumer: str, entries: list[Entry]) -> None:
        """Reset the idle time of entries still being worked on, so no one reclaims them."""
        if entries:
            self.client.xclaim(
                self.stream, self.group, consumer, 0, [e.id for e in entries], justid=True
            )

    def ack(self, entry: Entry) -> None:
        self.client.xack(self.stream, self.group, entry.id)

    def retry(self, entry: Entry) -> None:
        """A new entry for the job, then the old one acknowledged (a crash between: a duplicate
        entry, which the store's job status makes harmless)."""
        self.client.xadd(self.stream, {"job": entry.job_id})
        self.ack(entry)

    def dead_letter(self, entry: Entry, error: str, attempts: int) -> None:
        self.client.xadd(
            self.dead, {"job": entry.job_id, "error": error[:2000], "attempts": str(attempts)}
        )
        self.ack(entry)

    def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        """The latest dead letters, newest first."""
        rows = []
        entries: Any = self.client.xrevrange(self.dead, count=count)
        for entry_id, fields in entries:
            row = {_s(k): _s(v) for k, v in fields.items()}
            row["id"] = _s(entry_id)
            rows.append(row)
        return rows

    def stats(self) -> StreamStats:
        if not self.client.exists(self.stream):
            return StreamStats(0, 0, 0.0, int(self.client.xlen(self.dead)))
        groups = {_s(g["name"]): g for g in self.client.xinfo_groups(self.stream)}
        group = groups.get(self.group)
        if group is None:
            length = int(self.client.xlen(self.stream))
            first = self.client.xrange(self.stream, count=1)
            age = _age_s(_s(first[0][0])) if first else 0.0
            return StreamStats(length, 0, age, int(self.client.xlen(self.dead)))
        last = _s(group["last-delivered-id"])
        undelivered = self.client.xrange(self.stream, min=f"({last}", count=1)
        lag = group.get("lag")
        if lag is None:  # Redis can't tell after deletions: count what follows
            rest: Any = self.client.xrange(self.stream, min=f"({last}")
            lag = len(rest)
        ages = [_age_s(_s(undelivered[0][0]))] if undelivered else []
        pending = int(group["pending"])
        if pending:
            summary = self.client.xpending(self.stream, self.group)
            ages.append(_age_s(_s(summary["min"])))
        return StreamStats(
            int(lag), pending, max(ages, default=0.0), int(self.client.xlen(self.dead))
        )

    def close(self) -> None:
        self.client.close()
