"""OpenAI chat completions served by the configured engine (``POST /v1/chat/completions``)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from serving.email.engines.base import GenerationParams, GenerationRequest
from serving.email.schemas import ChatRequest
from serving.email.service import EmailService


class ReplyError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "code": self.code, "message": self.message}}


def _schema(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    if not response_format or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return schema if isinstance(schema, dict) else None


async def chat_completion(service: EmailService, request: ChatRequest) -> dict[str, Any]:
    engine = service.default_engine
    if engine.kind == "template":
        raise ReplyError(
            400,
            "engine_cannot_chat",
            "the configured engine (template) writes from order facts only; set "
            "OCS_EMAIL_ENGINE to local, openai or vllm to chat",
        )
    generation = GenerationRequest(
        messages=[m.model_dump() for m in request.messages],
        params=GenerationParams(
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens or 256,
        ),
        json_schema=_schema(request.response_format),
    )
    try:
        completion = await service.complete(generation)
    except Exception as exc:
        raise ReplyError(502, "engine_error", f"the {engine.kind} engine failed: {exc}") from exc
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": engine.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion.text},
                "finish_reason": completion.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": completion.tokens_in,
            "completion_tokens": completion.tokens_out,
            "total_tokens": completion.tokens_in + completion.tokens_out,
        },
    }
