"""Email metrics: the drafts are counted where the answer passes (the Gateway), the LLM calls
where they happen (the EmailGenerator, or in-process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from serving import multiprocess_metrics
from serving.email.schemas import EmailDraft

GENERATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class EmailMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.emails = Counter(
            "ocs_emails_total",
            "Emails returned, by the engine that wrote them, variant and outcome",
            ["engine", "variant", "outcome"],
            registry=registry,
        )
        self.guardrail_failures = Counter(
            "ocs_email_guardrail_failures_total",
            "Drafts rejected by a guardrail, by reason",
            ["reason"],
            registry=registry,
        )
        self.cache = Counter(
            "ocs_email_cache_requests_total",
            "Email cache lookups: hit, miss, or bypass (cache unavailable)",
            ["result"],
            registry=registry,
        )
        self.latency = Histogram(
            "ocs_email_generation_duration_seconds",
            "Time to produce an email (cache hits included), by outcome",
            ["outcome"],
            buckets=GENERATION_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "ocs_email_tokens_total",
            "Tokens read and written by the engines",
            ["engine", "direction"],
            registry=registry,
        )

    def observe(self, draft: EmailDraft) -> None:
        self.emails.labels(draft.engine, draft.variant, draft.outcome).inc()
        for reason in draft.guardrail_failures:
            self.guardrail_failures.labels(reason).inc()
        self.cache.labels(draft.cache).inc()
        self.latency.labels(draft.outcome).observe(draft.latency_ms / 1000)
        if not draft.cached:
            self.tokens.labels(draft.engine, "in").inc(draft.usage.tokens_in)
            self.tokens.labels(draft.engine, "out").inc(draft.usage.tokens_out)


class LlmMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        multiprocess_metrics.directory()
        self.registry = registry or CollectorRegistry()
        self.latency = Histogram(
            "ocs_llm_request_duration_seconds",
            "One engine request (its retries included), by engine and outcome (ok|error|timeout)",
            ["engine", "outcome"],
            buckets=GENERATION_BUCKETS,
            registry=self.registry,
        )
