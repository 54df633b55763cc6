"""The email cache and store on a real Redis, and what happens when Redis goes away."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from serving.config import load_settings
from serving.email.cache import RedisCache
from serving.email.schemas import EmailRequest
from serving.email.service import EmailService
from tests.integration.conftest import free_port
from tests.unit.serving.email.orders import order
from tests.unit.serving.email.test_guardrails import GOOD
from tests.unit.serving.email.test_service import ScriptedEngine

pytestmark = pytest.mark.integration
SHARED_REDIS = "redis://127.0.0.1:6379/7"  # this test's own DB number; only it is flushed


def _redis_up(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def shared_redis() -> Iterator[str]:
    if not _redis_up(SHARED_REDIS):
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one: .ci/run)")
    import redis

    client = redis.Redis.from_url(SHARED_REDIS)
    client.flushdb()
    yield SHARED_REDIS
    client.flushdb()


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of this test's own, so that the test may stop it."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while not _redis_up(url):
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("own redis-server did not start")
        time.sleep(0.05)
    yield url, process
    if process.poll() is None:
        process.terminate()
        process.wait(10)


def service(redis_url: str, engine: ScriptedEngine) -> EmailService:
    svc = EmailService(load_settings(email_engine="local", redis_url=redis_url))
    (key,) = svc.engines
    svc.engines[key] = engine  # type: ignore[assignment]
    return svc


def test_cache_hit_across_services_sharing_redis(shared_redis):
    """Two replicas share Redis: the second returns the first one's email, engine not called."""
    request = EmailRequest.model_validate(order())
    first_engine, second_engine = ScriptedEngine(GOOD), ScriptedEngine(GOOD)
    first = asyncio.run(service(shared_redis, first_engine).generate(request))
    other = service(shared_redis, second_engine)
    second = asyncio.run(other.generate(request))
    assert second.cached and second.id == first.id and second.body == first.body
    assert len(second_engine.prompts) == 0
    assert asyncio.run(other.get(first.id)) == first  # the store is shared too


def test_redis_down_mid_test_bypasses_the_cache_and_never_fails(own_redis):
    url, process = own_redis
    engine = ScriptedEngine(GOOD)
    svc = service(url, engine)
    request = EmailRequest.model_validate(order())

    async def scenario() -> None:
        first = await svc.generate(request)
        assert first.cache == "miss"
        hit = await svc.generate(request)
        assert hit.cached and hit.id == first.id and len(engine.prompts) == 1

        process.terminate()  # Redis goes away
        process.wait(10)

        during = await svc.generate(request)
        assert during.cache == "bypass" and not during.cached
        assert during.verdict.passed and during.body == GOOD and len(engine.prompts) == 2
        assert await svc.get(during.id) == during  # kept in process meanwhile
        lookup, value = await svc.cache.get("anything")
        assert (lookup, value) == ("bypass", None)

    asyncio.run(scenario())


def test_a_redis_url_with_nothing_behind_it_is_a_bypass():
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", ttl_s=60)

    async def scenario() -> None:
        assert await cache.get("k") == ("bypass", None)
        assert await cache.set("k", {"a": 1}) is False

    asyncio.run(scenario())


def test_cached_email_expires_after_the_ttl(shared_redis):
    cache = RedisCache(shared_redis, ttl_s=1)

    async def scenario() -> None:
        await cache.set("ocs:email:cache:ttl", {"x": 1})
        assert await cache.get("ocs:email:cache:ttl") == ("hit", {"x": 1})
        ttl = await cache._redis.ttl("ocs:email:cache:ttl")
        assert 0 < ttl <= 1

    asyncio.run(scenario())
