"""``ocs worker``: takes email jobs off the stream, writes the email, stores it, acknowledges.

The email service runs in this process with the engine from Settings (the k8s worker is then a
plain Deployment that scales with the queue; the GPU engine stays behind the OpenAI-compatible
endpoint when ``OCS_EMAIL_ENGINE=openai``). An attempt is counted in the store before the work,
and the draft and the job's new status commit together before the entry is acknowledged, so:

* a worker killed mid-job leaves the entry pending; another worker reclaims it after
  ``worker_claim_idle_s`` and does it (the draft is stored once: the email id is the job's);
* a job whose attempts all fail goes to the dead-letter stream, its error in the store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from serving.config import Settings
from serving.email.schemas import EmailDraft, EmailRequest
from serving.email.service import EmailService
from serving.email.store import MemoryStore
from serving.jobs.stream import Entry, JobStream
from serving.pushgateway import push_metrics
from serving.queue_metrics import QueueMetrics
from serving.store import jobs
from serving.store.db import Database

log = logging.getLogger(__name__)
FAILED_OUTCOMES = ("fallback_engine", "fallback_open")  # the engine did not answer


class JobFailed(RuntimeError):
    pass


def email_id_for(job_id: str) -> str:
    """One email id per job: a second run of the same job can't store a second email."""
    return "em_" + job_id.removeprefix("job_")


@dataclass
class WorkerStats:
    done: int = 0
    retried: int = 0
    dead_letters: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, settings: Settings, db: Database, stream: JobStream):
        self.settings = settings
        self.db = db
        self.stream = stream
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        # The draft is written by ``finish`` together with the job; the service keeps no copy.
        self.service = EmailService(settings, store=MemoryStore(max_items=1))
        self.registry = CollectorRegistry()
        self.metrics = QueueMetrics(self.registry)
        self.stats = WorkerStats()
        self._stop = asyncio.Event()
        self._last_push = 0.0

    def stop(self) -> None:
        self._stop.set()

    async def run(self, drain: bool = False) -> WorkerStats:
        """Work until ``stop()``; with ``drain``, until no job is left (pending ones included)."""
        s = self.settings
        await asyncio.to_thread(self.stream.ensure_group)
        await self.service.start()
        await asyncio.to_thread(self.publish_unpublished)
        tasks: set[asyncio.Task[None]] = set()
        in_flight: dict[str, Entry] = {}
        owners: dict[asyncio.Task[None], str] = {}
        touched = time.monotonic()
        try:
            while not self._stop.is_set():
                # A slow engine must not look like a dead worker: refresh what is in hand.
                if in_flight and time.monotonic() - touched > s.worker_claim_idle_s / 3:
                    await asyncio.to_thread(
                        self.stream.touch, self.consumer, list(in_flight.values())
                    )
                    touched = time.monotonic()
                free = s.worker_concurrency - len(tasks)
                entries: list[Entry] = []
                if free > 0:
                    entries = await asyncio.to_thread(
                        self.stream.reclaim, self.consumer, s.worker_claim_idle_s, free
                    )
                    if not entries:
                        block = 50 if tasks else (200 if drain else s.worker_block_ms)
                        entries = await asyncio.to_thread(
                            self.stream.read, self.consumer, free, block
                        )
                for entry in entries:
                    if entry.id in in_flight:  # our own entry, still being worked on
                        continue
                    in_flight[entry.id] = entry
                    task = asyncio.create_task(self.handle(entry))
                    owners[task] = entry.id
                    tasks.add(task)
                if tasks:
                    finished, tasks = await asyncio.wait(
                        tasks, timeout=0.05, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in finished:
                        in_flight.pop(owners.pop(task), None)
                        if not task.cancelled() and task.exception() is not None:
                            # the entry stays pending: another attempt reclaims it later
                            log.error("job entry failed: %r", task.exception())
                elif drain and not entries:
                    stats = await asyncio.to_thread(self.stream.stats)
                    if stats.undelivered == 0 and stats.pending == 0:
                        break
                    await asyncio.sleep(0.2)  # a dead worker's entries: wait for the reclaim
                await self._push()
        finally:
            if tasks:
                await asyncio.wait(tasks)  # finish what was started; nothing half-done
            await self._push(force=True)
            await self.service.close()
        return self.stats

    def publish_unpublished(self) -> int:
        """Put jobs on the stream that a dead process stored but never published."""
        ids = jobs.unpublished_jobs(self.db)
        if ids:
            self.stream.publish(ids)
            jobs.mark_published(self.db, ids)
            log.info("published %d jobs that were stored but not on the stream", len(ids))
        return len(ids)

    async def handle(self, entry: Entry) -> None:
        s = self.settings
        claim = await asyncio.to_thread(jobs.claim, self.db, entry.job_id, s.worker_max_attempts)
        if claim.state in ("done", "missing"):
            self.stats.skipped += 1
            await asyncio.to_thread(self.stream.ack, entry)
            return
        if claim.state == "exhausted":  # its workers died during every attempt
            error = f"no attempt finished in {claim.attempts} (the worker died during each)"
            await self._dead_letter(entry, error, claim.attempts)
            return
        assert claim.request is not None
        try:
            draft = await self.generate(entry.job_id, claim.request)
            stored = await asyncio.to_thread(jobs.finish, self.db, entry.job_id, draft)
        except ValidationError as exc:  # a bad request does not get better with retries
            await self._dead_letter(entry, f"invalid email request: {exc}", claim.attempts)
            return
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if claim.attempts >= s.worker_max_attempts:
                await self._dead_letter(entry, error, claim.attempts)
                return
            await asyncio.to_thread(jobs.record_failure, self.db, entry.job_id, error, False)
            log.warning(
                "job %s attempt %d failed, retrying: %s", entry.job_id, claim.attempts, error
            )
            await asyncio.sleep(s.worker_retry_wait_s * 2 ** (claim.attempts - 1))
            await asyncio.to_thread(self.stream.retry, entry)
            self.stats.retried += 1
            self.metrics.jobs.labels("retried").inc()
            return
        await asyncio.to_thread(self.stream.ack, entry)
        if stored:
            self.stats.done += 1
            self.metrics.jobs.labels("done").inc()
        else:
            self.stats.skipped += 1

    async def generate(self, job_id: str, request: dict[str, object]) -> EmailDraft:
        draft = await self.service.generate(EmailRequest.model_validate(request))
        if draft.outcome in FAILED_OUTCOMES:
            raise JobFailed("; ".join(draft.fallback_reasons) or draft.outcome)
        return draft.model_copy(update={"id": email_id_for(job_id)})

    async def _dead_letter(self, entry: Entry, error: str, attempts: int) -> None:
        await asyncio.to_thread(jobs.record_failure, self.db, entry.job_id, error, True)
        await asyncio.to_thread(self.stream.dead_letter, entry, error, attempts)
        log.error("job %s dead-lettered after %d attempts: %s", entry.job_id, attempts, error)
        self.stats.dead_letters += 1
        self.stats.errors.append(error)
        self.metrics.jobs.labels("dead_letter").inc()
        self.metrics.dead_letters.labels(self.stream.stream).inc()

    async def _push(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_push < 15:
            return
        self._last_push = time.monotonic()
        try:
            stats = await asyncio.to_thread(self.stream.stats)
        except Exception as exc:  # metrics must never stop the work
            log.warning("queue stats unavailable: %s", exc)
            return
        name = self.stream.stream
        self.metrics.depth.labels(name).set(stats.undelivered)
        self.metrics.pending.labels(name).set(stats.pending)
        self.metrics.lag.labels(name).set(stats.oldest_age_s)
        if self.settings.pushgateway_url:
            await asyncio.to_thread(
                push_metrics, self.settings.pushgateway_url, self.registry, "ocs-worker"
            )
