"""The EmailGenerator Ray Serve deployment: one EmailService per replica (engines loaded once)."""

from __future__ import annotations

from typing import Any

from ray import serve

from serving import logs
from serving.config import load_settings
from serving.email.chat import ReplyError, chat_completion
from serving.email.schemas import ChatRequest, EmailRequest
from serving.email.service import EmailService
from serving.email.store import StoreUnavailable
from serving.store.store import Store


@serve.deployment(name="EmailGenerator", ray_actor_options={"num_cpus": 0})
class EmailGenerator:
    """Answers are plain dicts: errors travel as ``{"error": ...}``, not as Ray exceptions."""

    async def __init__(self, settings: dict[str, Any]) -> None:  # type: ignore[misc]
        self.settings = load_settings(**settings)
        logs.attach_to_serve(self.settings.log_level)
        # GET /v1/emails/{id} reads the system of record, where the worker writes too (issue 5)
        store = Store.from_settings(self.settings)
        self.service = EmailService(self.settings, store=store.emails)
        await self.service.start()

    async def generate(
        self, request: dict[str, Any], context: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``context``: the Gateway's log fields (request id, model version) for our lines."""
        parsed = EmailRequest.model_validate(request)
        with logs.bound(**(context or {}), order_id=parsed.order_id):
            draft = await self.service.generate(parsed)
        return draft.model_dump(mode="json")

    async def get(self, email_id: str) -> dict[str, Any] | None:
        try:
            draft = await self.service.get(email_id)
        except StoreUnavailable as exc:
            return ReplyError(503, "store_unavailable", str(exc)).as_dict()
        return None if draft is None else draft.model_dump(mode="json")

    async def chat(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return await chat_completion(self.service, ChatRequest.model_validate(request))
        except ReplyError as exc:
            return exc.as_dict()

    def check_health(self) -> None:
        if not self.service.healthy():
            raise RuntimeError("an email engine is not healthy")
