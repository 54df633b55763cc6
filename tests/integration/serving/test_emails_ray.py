"""Emails end to end through the real Ray Serve app: the real SmolLM2 in the EmailGenerator,
the real `openai` client against the Gateway's chat endpoint, and the `openai` engine too."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from serving.config import load_settings
from serving.email.schemas import EmailRequest
from serving.email.service import EmailService
from tests.unit.serving.email.readme import example_body

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def client(ray_serve_url, deployment):
    headers = {"Authorization": f"Bearer {deployment.keys['emails']}"}
    with httpx.Client(base_url=ray_serve_url, timeout=900, headers=headers) as c:
        yield c


def test_smollm2_writes_the_readme_email_or_the_fallback_says_why(client):
    r = client.post("/v1/emails", json=example_body())
    assert r.status_code == 200, r.text
    email = r.json()
    assert email["verdict"]["passed"], email  # whatever happened, what we send is guarded
    assert email["variant"] == "default" and email["prompt"] in {
        "retention-email@2",
        "fallback-en@1",
    }
    assert email["attempts"] == 1 and email["usage"]["tokens_out"] > 0  # SmolLM2 really wrote
    if email["fallback_used"]:
        assert email["outcome"] == "fallback_guardrails" and email["fallback_reasons"], email
        assert email["guardrail_failures"]
    else:
        assert email["engine"] == "local" and email["model"] == "SmolLM2-135M-Instruct"
    assert client.get(f"/v1/emails/{email['id']}").json() == email
    again = client.post("/v1/emails", json=example_body()).json()
    if not email["fallback_used"]:
        assert again["cached"] and again["id"] == email["id"]
    metrics = client.get("/metrics").text
    assert "ocs_emails_total{" in metrics and f'outcome="{email["outcome"]}"' in metrics
    if email["guardrail_failures"]:
        assert "ocs_email_guardrail_failures_total{" in metrics


def test_the_openai_client_chats_with_the_gateway(ray_serve_url, deployment):
    from openai import OpenAI

    api = OpenAI(base_url=f"{ray_serve_url}/v1", api_key=deployment.keys["emails"], timeout=900)
    response = api.chat.completions.create(
        model="SmolLM2-135M-Instruct",
        messages=[{"role": "user", "content": "Say hello to Anna in one short sentence."}],
        max_tokens=24,
        temperature=0,
    )
    assert response.object == "chat.completion" and response.model == "SmolLM2-135M-Instruct"
    assert response.choices[0].message.content
    assert response.usage is not None and 0 < response.usage.completion_tokens <= 24
    wrong = OpenAI(base_url=f"{ray_serve_url}/v1", api_key=deployment.keys["predict"])
    import openai

    with pytest.raises(openai.PermissionDeniedError):
        wrong.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])


def test_the_openai_engine_writes_emails_through_this_endpoint(ray_serve_url, deployment):
    settings = load_settings(
        email_engine="openai",
        email_model="SmolLM2-135M-Instruct",
        openai_base_url=f"{ray_serve_url}/v1",
        openai_api_key=deployment.keys["emails"],
        email_max_tokens=64,
        email_regenerations=0,
        email_timeout_s=900,
    )
    service = EmailService(settings)

    async def run():
        await service.start()
        try:
            return await service.generate(EmailRequest.model_validate(example_body()))
        finally:
            await service.close()

    draft = asyncio.run(run())
    assert draft.attempts == 1 and draft.usage.tokens_in > 0 and draft.usage.tokens_out > 0
    assert draft.outcome in {"generated", "fallback_guardrails"}, draft.fallback_reasons
    assert draft.verdict.passed
    if not draft.fallback_used:
        assert (draft.engine, draft.model) == ("openai", "SmolLM2-135M-Instruct")
