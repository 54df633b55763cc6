"""Structured logs: JSON lines that carry request id, order id and model version.

The Gateway takes ``X-Request-ID`` (validated; generated when absent), returns it, and binds it
with the order ids to a context variable that ``ContextFilter`` copies onto every record. Ray
Serve carries the same id to downstream deployments (it is Serve's own request id: Serve reads
the header), and the Gateway also passes the ids explicitly where calls are merged (the
Predictor scores orders of several requests in one call), so each deployment's lines name the
requests and orders they worked for.

In a Serve replica ``attach_to_serve()`` sends the ``serving.*`` loggers through Serve's own
handlers: JSON lines in the replica's Serve log file with Serve's fields (deployment, replica,
request_id) and ours. Elsewhere (CLI, standalone) ``configure()`` writes JSON to stderr.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import error_body

REQUEST_ID_HEADER = "x-request-id"
# what proxies and tracing systems send (uuids, hex ids, W3C-ish), never spaces or quotes
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_IDS = 50  # order ids in one log line; a 1000-order request logs the first ones
_context: ContextVar[dict[str, Any] | None] = ContextVar("ocs_log_context", default=None)
# attributes every LogRecord has; everything else on a record came from `extra` or a filter
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def current() -> dict[str, Any]:
    return dict(_context.get() or {})


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add fields to the log context of this task (and the tasks it starts) for the block."""
    token = _context.set({**current(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields for the rest of this task (a request handler's own task)."""
    _context.set({**current(), **{k: v for k, v in fields.items() if v is not None}})


def request_id() -> str | None:
    value = current().get("request_id")
    return str(value) if value else None


def valid_request_id(value: str) -> bool:
    return bool(REQUEST_ID.match(value))


def new_request_id() -> str:
    return str(uuid.uuid4())


class ContextFilter(logging.Filter):
    """Copies the bound fields onto each record; fields given with ``extra=`` win."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in current().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    """Root logging of a plain process (CLI, standalone app, jobs)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def attach_to_serve(level: str = "INFO") -> None:
    """In a Serve replica: ``serving.*`` lines go through Serve's handlers (its log file).

    Serve configures only its "ray.serve" logger; without this our lines end in the worker's
    plain stderr, without Serve's request id, deployment and replica fields.
    """
    serve_logger = logging.getLogger("ray.serve")
    ours = logging.getLogger("serving")
    ours.handlers[:] = list(serve_logger.handlers)
    for handler in ours.handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
    ours.setLevel(level)
    ours.propagate = False


class RequestIdMiddleware:
    """``X-Request-ID``: validated, generated when absent, bound for logs, returned.

    An id that does not look like one (spaces, quotes, over 128 characters) is refused with
    400 rather than written into every log line and passed downstream. Under Ray Serve the
    HTTP server in front already put an id into the request (the client's, or a new one) and
    returns it, so ``echo=False`` there: the response carries it once.
    """

    def __init__(self, app: ASGIApp, echo: bool = True):
        self.app = app
        self.echo = echo

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = MutableHeaders(scope=scope).get(REQUEST_ID_HEADER)
        if given is not None and not valid_request_id(given):
            await _refuse(send)
            return
        rid = given or new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start" and self.echo:
                headers = MutableHeaders(scope=message)
                if REQUEST_ID_HEADER not in headers:
                    headers.append("X-Request-ID", rid)
            await send(message)

        with bound(request_id=rid):
            await self.app(scope, receive, send_with_id)


async def _refuse(send: Send) -> None:
    message = (
        "X-Request-ID must be 1 to 128 letters, digits or ._:- (starting with a letter or "
        "digit); omit it to get a generated one"
    )
    body = json.dumps(error_body("invalid_request_id", message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})
