"""The email generator: variant -> prompt -> engine (retries) -> guardrails -> regenerate ->
fallback, with a circuit breaker per engine, a cache and a store.

The same class runs inside the ``EmailGenerator`` Ray Serve deployment and in-process
(standalone app, tests). It never raises for a valid request: the worst case is the fallback.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from serving.config import Settings
from serving.email import context, guardrails
from serving.email.breaker import CircuitBreaker
from serving.email.cache import EmailCache, Lookup, build_cache, cache_key
from serving.email.engines.base import EMAIL_SCHEMA, Completion, Engine, GenerationRequest
from serving.email.engines.factory import build_engine
from serving.email.engines.template import render as render_fallback
from serving.email.kinds import DEFAULT_MODELS, EmailVariant
from serving.email.metrics import LlmMetrics
from serving.email.parsing import UnparseableOutput, parse_email
from serving.email.prompts import Prompt, PromptLibrary
from serving.email.render import to_html
from serving.email.retry import call_engine
from serving.email.schemas import EmailDraft, EmailRequest, Outcome, Usage, Verdict
from serving.email.store import EmailStore, build_store
from serving.email.variants import check_variants, default_variants

log = logging.getLogger(__name__)


def _engine_key(variant: EmailVariant) -> str:
    return f"{variant.engine.value}:{variant.model or DEFAULT_MODELS[variant.engine]}"


class EmailService:
    def __init__(
        self,
        settings: Settings,
        *,
        library: PromptLibrary | None = None,
        cache: EmailCache | None = None,
        store: EmailStore | None = None,
        registry: CollectorRegistry | None = None,
    ):
        self.settings = settings
        self.llm_metrics = LlmMetrics(registry)
        self.library = library or PromptLibrary(settings.prompts_dir)
        self.variants = list(settings.email_variants) or default_variants(
            settings.email_engine, settings.email_model, settings.email_prompt
        )
        check_variants(self.variants)
        for variant in self.variants:
            self.library.get(variant.prompt)  # unknown prompt: fail at start, not per request
        self.engines: dict[str, Engine] = {}
        for variant in self.variants:
            key = _engine_key(variant)
            if key not in self.engines:
                self.engines[key] = build_engine(
                    variant.engine, variant.model, settings, self.library
                )
        self.breakers = {
            key: CircuitBreaker(settings.email_breaker_failures, settings.email_breaker_cooldown_s)
            for key in self.engines
        }
        self.cache = cache or build_cache(settings.redis_url, settings.email_cache_ttl_s)
        self.store = store or build_store(settings.redis_url, settings.email_store_ttl_s)
        self.limits = guardrails.Limits(settings.email_min_chars, settings.email_max_chars)
        self.default_engine = self.engines[_engine_key(self.variants[0])]

    async def start(self) -> None:
        """Load every engine; a missing backend fails here, loudly, with what to install."""
        for engine in self.engines.values():
            await engine.load()

    def healthy(self) -> bool:
        return all(e.healthy() for e in self.engines.values())

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.close()
        await self.cache.close()
        await self.store.close()

    async def get(self, email_id: str) -> EmailDraft | None:
        return await self.store.get(email_id)

    async def complete(self, request: GenerationRequest) -> Completion:
        """One chat completion from the default engine, with timeout and retries."""
        (completion,) = await self._call(self.default_engine, request)
        return completion

    async def _call(self, engine: Engine, request: GenerationRequest) -> list[Completion]:
        s = self.settings
        started, outcome = time.perf_counter(), "error"
        try:
            completions = await call_engine(
                engine,
                [request],
                timeout_s=s.email_timeout_s,
                retries=s.email_retries,
                first_wait_s=s.email_retry_wait_s,
            )
            outcome = "ok"
            return completions
        except TimeoutError:
            outcome = "timeout"
            raise
        finally:
            elapsed = time.perf_counter() - started
            self.llm_metrics.latency.labels(engine.kind, outcome).observe(elapsed)

    async def generate(self, request: EmailRequest) -> EmailDraft:
        started = time.perf_counter()
        variant = self.assign(request.order_id)
        prompt = self.library.get(variant.prompt)
        key = _engine_key(variant)
        engine = self.engines[key]
        cached_key = cache_key(
            engine.kind, engine.model, prompt.sha256, context.context_hash(request)
        )
        lookup, cached = await self.cache.get(cached_key)
        if cached is not None:
            draft = EmailDraft.model_validate(cached)
            return draft.model_copy(
                update={
                    "cached": True,
                    "cache": "hit",
                    "outcome": "cached",
                    "latency_ms": _ms(started),
                }
            )
        variables = context.variables(request, self.settings.email_order_url)
        run = _Run(self, request, variant, prompt, variables, lookup, started)
        breaker = self.breakers[key]
        if not breaker.allow():
            return await run.fallback(
                "fallback_open",
                [f"circuit_open: {key} failed {breaker.consecutive} times in a row"],
            )
        reasons: list[str] = []
        for regeneration in range(self.settings.email_regenerations + 1):
            generation = run.generation(regeneration, reasons)
            try:
                (completion,) = await self._call(engine, generation)
            except Exception as exc:  # every failure ends in the fallback, with its reason
                breaker.failure()
                log.warning("email for %s: engine %s failed: %r", request.order_id, key, exc)
                return await run.fallback("fallback_engine", [f"engine_error: {_describe(exc)}"])
            breaker.success()
            run.count(completion)
            try:
                subject, body = parse_email(completion.text, run.default_subject())
            except UnparseableOutput as exc:
                reasons = [f"unparseable: {exc}"]
                run.failures.append("unparseable")
                continue
            verdict = guardrails.check(
                subject, body, request, allowed_urls=run.links, limits=self.limits
            )
            if verdict.passed:
                outcome: Outcome = "generated" if regeneration == 0 else "regenerated"
                draft = await run.finish(
                    subject, body, verdict, outcome, (engine.kind, engine.model), prompt
                )
                await self.cache.set(cached_key, draft.model_dump(mode="json"))
                return draft
            reasons = verdict.reasons
            run.failures += [guardrails.reason_code(r) for r in verdict.reasons]
            log.info("email for %s failed guardrails: %s", request.order_id, reasons)
        return await run.fallback("fallback_guardrails", reasons)

    def assign(self, order_id: str) -> EmailVariant:
        from serving.email.variants import assign

        return assign(order_id, self.variants)

    def messages(self, prompt: Prompt, variables: dict[str, Any]) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": prompt.render("system", **variables)},
            {"role": "user", "content": prompt.render("user", **variables)},
        ]


class _Run:
    """The state of one email request while it goes through attempts."""

    def __init__(
        self,
        service: EmailService,
        request: EmailRequest,
        variant: EmailVariant,
        prompt: Prompt,
        variables: dict[str, Any],
        lookup: Lookup,
        started: float,
    ):
        self.service, self.request, self.variant, self.prompt = service, request, variant, prompt
        self.variables, self.lookup, self.started = variables, lookup, started
        self.links = [variables["order_url"]] if variables["order_url"] else []
        self.attempts = 0
        self.usage = Usage()
        self.failures: list[str] = []

    def generation(self, regeneration: int, reasons: list[str]) -> GenerationRequest:
        strict = regeneration > 0
        variables = {**self.variables, "strict": strict, "reasons": reasons}
        params = self.prompt.params
        cap = self.service.settings.email_max_tokens
        if cap is not None:
            params = replace(params, max_tokens=min(params.max_tokens, cap))
        if strict:  # a stricter prompt and a cooler sampler
            params = replace(params, temperature=round(params.temperature / 2, 3))
        return GenerationRequest(
            messages=self.service.messages(self.prompt, variables),
            params=params,
            json_schema=EMAIL_SCHEMA,
            context=variables,
        )

    def default_subject(self) -> str:
        """The fallback's subject, for drafts that came without one."""
        return render_fallback(self.service.library, self.variables)[0]

    def count(self, completion: Completion) -> None:
        self.attempts += 1
        self.usage = Usage(
            tokens_in=self.usage.tokens_in + completion.tokens_in,
            tokens_out=self.usage.tokens_out + completion.tokens_out,
        )

    async def finish(
        self,
        subject: str,
        body: str,
        verdict: Verdict,
        outcome: Outcome,
        writer: tuple[str, str],
        prompt: Prompt,
        reasons: list[str] | None = None,
    ) -> EmailDraft:
        draft = EmailDraft(
            id="em_" + uuid.uuid4().hex[:24],
            order_id=self.request.order_id,
            subject=subject,
            body=body,
            body_html=to_html(body, self.links),
            language=self.request.language,
            variant=self.variant.name,
            engine=writer[0],
            model=writer[1],
            prompt=prompt.ref,
            prompt_hash=prompt.sha256,
            verdict=verdict,
            outcome=outcome,
            fallback_used=outcome.startswith("fallback"),
            fallback_reasons=reasons or [],
            guardrail_failures=self.failures,
            attempts=self.attempts,
            cache=self.lookup,
            latency_ms=_ms(self.started),
            usage=self.usage,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        await self.service.store.put(draft)
        log.info(
            "email %s for order %s: variant=%s engine=%s outcome=%s reasons=%s",
            draft.id,
            draft.order_id,
            draft.variant,
            draft.engine,
            outcome,
            reasons or [],
        )
        return draft

    async def fallback(self, outcome: Outcome, reasons: list[str]) -> EmailDraft:
        service = self.service
        subject, body, template = render_fallback(service.library, self.variables)
        verdict = guardrails.check(
            subject, body, self.request, allowed_urls=self.links, limits=service.limits
        )
        if not verdict.passed:  # a template bug: still send it, but make it loud
            log.error(
                "fallback for %s fails guardrails: %s", self.request.order_id, verdict.reasons
            )
        writer = ("template", "jinja")
        return await self.finish(subject, body, verdict, outcome, writer, template, reasons)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:300]
