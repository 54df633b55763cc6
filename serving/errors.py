"""JSON errors that say what to fix; no request ends in an unexplained 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers = headers
        if status == 401 and headers is None:
            self.headers = {"WWW-Authenticate": "Bearer"}


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> Any:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def _loc(parts: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in parts if p != "body") or "body"


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        ctx = errors[0].get("ctx") or {}
        reason = ctx.get("error", "could not be parsed")
        return JSONResponse(
            error_body("malformed_json", f"request body is not JSON: {reason}"), 400
        )
    if len(errors) == 1 and tuple(errors[0].get("loc", ())) == ("body",):
        return JSONResponse(
            error_body(
                "invalid_request",
                "the request body must be a JSON object (Content-Type: application/json): "
                + str(errors[0].get("msg", "")),
            ),
            422,
        )
    details = [{"field": _loc(e.get("loc", ())), "message": e.get("msg", "")} for e in errors]
    fields = ", ".join(sorted({d["field"] for d in details})[:10])
    return JSONResponse(
        error_body("invalid_request", f"invalid request: check {fields}", details), 422
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal_error", f"internal error ({type(exc).__name__}); see server logs"),
        500,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
