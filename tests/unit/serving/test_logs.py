"""Structured logs: X-Request-ID handling and JSON lines with the bound context."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving import logs


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()
    seen: list[dict] = []
    app.state.seen = seen

    @app.get("/echo")
    async def echo() -> dict:
        seen.append(logs.current())
        logging.getLogger("serving.test").info("handled")
        return {}

    app.add_middleware(logs.RequestIdMiddleware)
    return app


@pytest.fixture
def captured():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure("INFO", "json", stream)
    yield stream
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_a_request_id_sent_in_is_bound_logged_and_returned(app, captured):
    with TestClient(app) as c:
        r = c.get("/echo", headers={"X-Request-ID": "abc-123.x:y_z"})
    assert r.headers.get_list("x-request-id") == ["abc-123.x:y_z"]
    assert app.state.seen == [{"request_id": "abc-123.x:y_z"}]
    (line,) = [json.loads(x) for x in captured.getvalue().splitlines() if '"handled"' in x]
    assert line["request_id"] == "abc-123.x:y_z" and line["level"] == "INFO"
    assert line["logger"] == "serving.test"


def test_a_missing_request_id_is_generated(app):
    with TestClient(app) as c:
        first, second = c.get("/echo"), c.get("/echo")
    ids = [r.headers["x-request-id"] for r in (first, second)]
    assert ids[0] != ids[1] and all(logs.valid_request_id(i) for i in ids)
    assert [s["request_id"] for s in app.state.seen] == ids


@pytest.mark.parametrize("bad", ["has space", 'quo"te', "x" * 129, "-leading", "a/b", ""])
def test_a_malformed_request_id_is_refused_with_a_json_error(app, bad):
    with TestClient(app) as c:
        r = c.get("/echo", headers={"X-Request-ID": bad})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_request_id" and "X-Request-ID" in error["message"]
    assert app.state.seen == []


def test_bound_fields_reach_every_line_and_extra_wins(captured):
    log = logging.getLogger("serving.test")
    with logs.bound(request_id="r1", order_id="o1", model_version="3"):
        log.info("one")
        log.info("two", extra={"order_id": "o2"})
        with logs.bound(order_id="o3"):
            log.info("three")
    log.info("outside")
    lines = [json.loads(x) for x in captured.getvalue().splitlines()]
    by_msg = {line["message"]: line for line in lines}
    assert by_msg["one"]["order_id"] == "o1" and by_msg["one"]["model_version"] == "3"
    assert by_msg["two"]["order_id"] == "o2" and by_msg["two"]["request_id"] == "r1"
    assert by_msg["three"]["order_id"] == "o3"
    assert "request_id" not in by_msg["outside"]


def test_exceptions_are_one_json_line(captured):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("serving.test").exception("failed")
    (line,) = [json.loads(x) for x in captured.getvalue().splitlines()]
    assert "ValueError: boom" in line["exc_info"]
