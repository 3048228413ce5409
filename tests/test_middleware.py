"""Request ids, security headers, CORS, body caps, timeouts and JSON logs on every response."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import Response, StreamingResponse

from api.logs import AccessSink, JsonFormatter
from api.settings import Settings
from api.steps import Deadlines
from db.database import Database
from db.keys import create_key
from tests.helpers import add_guarded_routes, assert_problem, serve

SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def add_test_routes(app: FastAPI) -> None:
    """Routes that echo, sleep, stream, log and fail, plus the auth ones."""
    add_guarded_routes(app)

    async def echo(request: Request) -> Response:
        body = await request.body()
        return Response(str(len(body)).encode(), media_type="text/plain")

    async def parsed(payload: dict[str, Any]) -> dict[str, Any]:
        return {"keys": len(payload)}

    async def slow() -> Response:
        await asyncio.sleep(5)
        return Response(b"late")

    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(3):
                await asyncio.sleep(0.15)
                yield b"chunk\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def chatty() -> Response:
        logging.getLogger("claims.test").info("inside the route")
        return Response(b"ok")

    async def broken() -> Response:
        raise RuntimeError("boom with secret detail")

    app.add_api_route("/t/echo", echo, methods=["POST"])
    app.add_api_route("/t/parsed", parsed, methods=["POST"])
    app.add_api_route("/t/slow", slow, methods=["GET"])
    app.add_api_route("/t/stream", stream, methods=["GET"])
    app.add_api_route("/t/chatty", chatty, methods=["GET"])
    app.add_api_route("/t/broken", broken, methods=["GET"])


@pytest.fixture
async def http(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    limits = replace(settings, max_body_bytes=1000, request_timeout_s=0.3, cors_origins=("https://app.example",))
    async with serve(db, limits, add_test_routes) as client:
        yield client


def assert_secured(response: httpx.Response) -> None:
    for name, value in SECURITY.items():
        assert response.headers[name] == value, name
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert len(response.headers["x-request-id"]) >= 16


async def test_a_request_id_is_made_up_when_none_is_sent(http: httpx.AsyncClient) -> None:
    first = await http.get("/healthz")
    second = await http.get("/healthz")

    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_sane_incoming_request_id_is_echoed(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz", headers={"X-Request-Id": "lb-7f3a:42"})

    assert response.headers["x-request-id"] == "lb-7f3a:42"


@pytest.mark.parametrize("sent", ["x" * 129, "has space", 'quote"d', "new\\nline", "ünïcode"])
async def test_an_insane_incoming_request_id_is_replaced(http: httpx.AsyncClient, sent: str) -> None:
    response = await http.get("/healthz", headers={"X-Request-Id": sent.encode()})

    assert response.headers["x-request-id"] != sent
    assert len(response.headers["x-request-id"]) == 32


async def test_security_headers_are_on_successes(http: httpx.AsyncClient) -> None:
    assert_secured(await http.get("/healthz"))


async def test_security_headers_are_on_errors(http: httpx.AsyncClient) -> None:
    for response in [
        await http.get("/v1/no-such-thing"),
        await http.post("/t/write"),
        await http.post("/t/echo", content=b"x" * 2000),
        await http.get("/t/broken"),
    ]:
        assert response.status_code >= 400
        assert response.headers["content-type"] == "application/problem+json"
        assert_secured(response)


async def test_an_unhandled_error_is_a_500_problem_that_tells_nothing(http: httpx.AsyncClient) -> None:
    response = await http.get("/t/broken")

    body = assert_problem(response, 500)
    assert "secret" not in response.text and "boom" not in response.text
    assert body["detail"] == "An internal error occurred."


async def test_docs_pages_may_boot_inline_and_be_framed_by_this_origin(http: httpx.AsyncClient) -> None:
    response = await http.get("/docs")

    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert "'unsafe-inline'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert len(response.headers.get_list("content-security-policy")) == 1


async def test_a_declared_body_over_the_cap_is_413_naming_the_limit(http: httpx.AsyncClient) -> None:
    response = await http.post("/t/echo", content=b"x" * 1001)

    body = assert_problem(response, 413)
    assert "1000-byte limit" in body["detail"] and "CLAIMS_MAX_BODY_BYTES" in body["detail"]


async def test_a_streamed_body_over_the_cap_is_413(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 300

    for path in ["/t/echo", "/t/parsed"]:
        response = await http.post(path, content=chunks(), headers={"content-type": "application/json"})
        assert "content-length" not in response.request.headers
        body = assert_problem(response, 413)
        assert "1000-byte limit" in body["detail"]


async def test_a_body_within_the_cap_gets_through(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"z" * 300

    assert (await http.post("/t/echo", content=b"x" * 1000)).text == "1000"
    assert (await http.post("/t/echo", content=chunks())).text == "900"


async def test_the_import_streams_past_the_body_cap(db: Database, http: httpx.AsyncClient) -> None:
    key = await create_key(db, ["write"])
    lines = b"\n".join(b'{"not": "a source document"}' for _ in range(100))

    response = await http.post(
        "/v1/import", content=lines, headers={"X-API-Key": key.secret, "content-type": "application/x-ndjson"}
    )

    assert len(lines) > 1000
    assert response.status_code == 200, response.text
    assert response.json()["failed"] == 100


async def test_a_slow_request_is_503_naming_the_timeout(http: httpx.AsyncClient) -> None:
    response = await http.get("/t/slow")

    body = assert_problem(response, 503)
    assert "0.3 s limit" in body["detail"] and "CLAIMS_REQUEST_TIMEOUT_S" in body["detail"]
    assert response.headers["retry-after"]
    assert_secured(response)


async def test_a_started_stream_is_not_cut_by_the_timeout(http: httpx.AsyncClient) -> None:
    response = await http.get("/t/stream")

    assert response.status_code == 200
    assert response.text == "chunk\n" * 3


def test_the_timeout_holds_in_every_event_loop_the_app_serves_in() -> None:
    """The timeout's sweeper outlives the requests it watched for a few ticks; a request in another
    event loop (a restarted server's, the next test's) gets a sweeper of its own there instead of
    relying on one whose loop has stopped."""
    clock = Deadlines(0.2)

    async def slow_request() -> bool:
        task = clock.start()
        assert task is not None
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            return clock.expired(task)
        finally:
            clock.forget(task)
        return False

    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert first.run_until_complete(slow_request()) is True
        assert clock.sweeper is not None and not clock.sweeper.done()  # still waiting in the first loop
        assert second.run_until_complete(asyncio.wait_for(slow_request(), 3)) is True
    finally:
        for loop in (first, second):
            for task in asyncio.all_tasks(loop):
                task.cancel()
                loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
            loop.close()


async def test_a_preflight_from_an_allowed_origin_is_answered(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/t/write",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "x-api-key, content-type"
    assert "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/t/write", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )

    body = assert_problem(response, 403)
    assert "CLAIMS_CORS_ORIGINS" in body["detail"]
    assert "access-control-allow-origin" not in response.headers


async def test_cross_origin_responses_name_the_allowed_origin_only(http: httpx.AsyncClient) -> None:
    allowed = await http.get("/healthz", headers={"Origin": "https://app.example"})
    other = await http.get("/healthz", headers={"Origin": "https://evil.example"})

    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "X-Request-Id" in allowed.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in other.headers


async def test_without_configured_origins_there_is_no_cors(db: Database, settings: Settings) -> None:
    async with serve(db, settings) as http:
        response = await http.get("/healthz", headers={"Origin": "https://app.example"})

    assert "access-control-allow-origin" not in response.headers


async def test_each_request_logs_one_json_line_without_the_key_secret(
    db: Database, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = await create_key(db, ["write"])
    caplog.set_level(logging.INFO, logger="claims")

    response = await http.post("/t/write?token=abc", headers={"X-API-Key": key.secret, "X-Request-Id": "req-1"})

    assert response.status_code == 200
    [record] = [r for r in caplog.records if r.name == "claims.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-1"
    assert (line["method"], line["path"], line["status"], line["key"]) == ("POST", "/t/write", 200, key.prefix)
    assert line["msg"] == "POST /t/write 200" and line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)
    assert key.secret.rsplit("_", 1)[1] not in json.dumps(line)
    assert "abc" not in json.dumps(line)


async def test_every_log_line_of_a_request_carries_its_id(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="claims")
    caplog.handler.setFormatter(JsonFormatter())

    await http.get("/t/chatty", headers={"X-Request-Id": "req-2"})

    lines = [json.loads(line) for line in caplog.text.splitlines()]
    assert [(line["logger"], line["request_id"]) for line in lines] == [
        ("claims.test", "req-2"),
        ("claims.access", "req-2"),
    ]


async def test_a_failed_request_is_logged_with_its_status(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="claims")

    await http.get("/t/broken")

    access = [r for r in caplog.records if r.name == "claims.access"]
    assert [r.status for r in access] == [500]  # type: ignore[attr-defined]


def test_access_lines_go_to_a_utf8_streams_bytes_after_what_its_text_layer_holds() -> None:
    """Under a UTF-8 text stream (stderr) the sink writes orjson's bytes to the buffer below it,
    after flushing what other loggers left in the text layer, so lines keep their order."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=False)
    sink = AccessSink(logging.StreamHandler(stream))
    stream.write("an earlier line\n")  # held in the text layer
    sink.write({"msg": "GET /v1/entities/Zoë 200"})
    sink.flush()
    assert raw.getvalue() == b"an earlier line\n" + '{"msg":"GET /v1/entities/Zoë 200"}\n'.encode()


async def test_access_lines_written_directly_are_the_lines_logging_would_write(
    db: Database, settings: Settings
) -> None:
    """With only the JSON stream handler on the root, access lines skip `logging` (api.logs.AccessSink)
    and are written in batches, the last at shutdown; the line must be the one the handler's
    formatter makes, and any other handler turns the direct way off."""
    root = logging.getLogger()
    saved = root.handlers[:]
    stream = io.StringIO()
    captured: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = captured.append  # type: ignore[method-assign]
    root.handlers = [logging.StreamHandler(stream)]
    try:
        async with serve(db, settings) as http:  # create_app configures logging: the sink is on
            await http.get("/healthz", headers={"X-Request-Id": "direct"})
            assert stream.getvalue() == ""  # queued
            await asyncio.sleep(AccessSink.FLUSH_S * 2)
            assert stream.getvalue().count("\n") == 1  # written after a short while
            await http.get("/healthz", headers={"X-Request-Id": "direct"})
        assert stream.getvalue().count("\n") == 2  # the shutdown wrote what was queued
        async with serve(db, settings) as http:
            root.addHandler(collector)  # now through logging: the formatter writes to the stream
            await http.get("/healthz", headers={"X-Request-Id": "direct"})
    finally:
        root.handlers = saved
    assert [r.name for r in captured] == ["claims.access"]  # the last request only
    *direct_lines, through_logging = [json.loads(line) for line in stream.getvalue().splitlines()]
    direct = direct_lines[0]
    for line in (direct, through_logging):
        assert isinstance(line.pop("duration_ms"), float)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.pop("ts"))
    assert (
        direct
        == through_logging
        == {
            "level": "INFO",
            "logger": "claims.access",
            "msg": "GET /healthz 200",
            "request_id": "direct",
            "method": "GET",
            "path": "/healthz",
            "status": 200,
            "key": None,
            "client": "127.0.0.1",
        }
    )
