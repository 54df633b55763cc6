"""Where the Gateway sends email requests: the EmailGenerator deployment, or in-process."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from serving import logs
from serving.email.chat import ReplyError, chat_completion
from serving.email.schemas import ChatRequest, EmailDraft, EmailRequest
from serving.email.service import EmailService
from serving.email.store import StoreUnavailable
from serving.errors import ApiError


class EmailBackend(Protocol):
    async def generate(self, request: EmailRequest) -> EmailDraft: ...

    async def get(self, email_id: str) -> EmailDraft | None: ...

    async def chat(self, request: ChatRequest) -> dict[str, Any]: ...


def _raise_if_error(result: dict[str, Any]) -> dict[str, Any]:
    if "error" in result and "choices" not in result:
        err = result["error"]
        raise ApiError(int(err["status"]), str(err["code"]), str(err["message"]))
    return result


class LocalEmailBackend:
    """The service in this process; engines load on first use (or ``await start()``)."""

    def __init__(self, service: EmailService):
        self.service = service
        self._started: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self.service.start())
        await asyncio.shield(self._started)

    async def generate(self, request: EmailRequest) -> EmailDraft:
        await self.start()
        with logs.bound(order_id=request.order_id):
            return await self.service.generate(request)

    async def get(self, email_id: str) -> EmailDraft | None:
        try:
            return await self.service.get(email_id)
        except StoreUnavailable as exc:
            raise ApiError(503, "store_unavailable", str(exc)) from exc

    async def chat(self, request: ChatRequest) -> dict[str, Any]:
        await self.start()
        try:
            return await chat_completion(self.service, request)
        except ReplyError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from exc


class HandleEmailBackend:
    """Calls the EmailGenerator deployment; its answers are plain dicts (errors included)."""

    def __init__(self, handle: Any):
        self.handle = handle

    async def generate(self, request: EmailRequest) -> EmailDraft:
        result: dict[str, Any] = await self.handle.generate.remote(
            request.model_dump(mode="json"), logs.current()
        )
        return EmailDraft.model_validate(_raise_if_error(result))

    async def get(self, email_id: str) -> EmailDraft | None:
        result: dict[str, Any] | None = await self.handle.get.remote(email_id)
        return None if result is None else EmailDraft.model_validate(_raise_if_error(result))

    async def chat(self, request: ChatRequest) -> dict[str, Any]:
        result: dict[str, Any] = await self.handle.chat.remote(request.model_dump(mode="json"))
        return _raise_if_error(result)
