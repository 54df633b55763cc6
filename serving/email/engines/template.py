"""The template engine: deterministic Jinja from structured order facts (also the fallback)."""

from __future__ import annotations

import json
from typing import Any

from serving.email.engines.base import Completion, EngineError, GenerationRequest
from serving.email.prompts import Prompt, PromptLibrary


def fallback_prompt(library: PromptLibrary, language: str) -> Prompt:
    return library.latest(f"fallback-{language}")


def render(library: PromptLibrary, variables: dict[str, Any]) -> tuple[str, str, Prompt]:
    """Subject, body and the template used, for the variables of ``context.variables``."""
    prompt = fallback_prompt(library, str(variables["language"]))
    return prompt.render("subject", **variables), prompt.render("body", **variables), prompt


class TemplateEngine:
    kind = "template"

    def __init__(self, library: PromptLibrary, model: str = "jinja"):
        self.library = library
        self.model = model or "jinja"

    async def load(self) -> None:
        for language in ("en", "de"):
            fallback_prompt(self.library, language)

    async def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        out = []
        for request in requests:
            if request.context is None:
                raise EngineError("the template engine writes from the order context, none given")
            subject, body, _ = render(self.library, request.context)
            out.append(Completion(json.dumps({"subject": subject, "body": body})))
        return out

    def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        return None
