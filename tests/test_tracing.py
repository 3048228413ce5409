"""OpenTelemetry: a server span per request with SQL client spans under it, only when OTEL_* asks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from api import tracing
from api.app import create_app
from api.settings import Settings
from db.database import Database
from tests.helpers import settled
from tests.rest_helpers import MERZ, document, quote, write

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def traced(db: Database, settings: Settings) -> AsyncIterator[tuple[FastAPI, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        app = create_app(settings, database=db)
        async with app.router.lifespan_context(app):
            await settled(app)
            exporter.clear()
            yield app, exporter
    finally:
        tracing.use(None)
    assert db.statement_timers == []  # the app's shutdown took its timer off the shared database


async def test_a_request_is_a_server_span_with_its_sql_statements_as_children(
    traced: tuple[FastAPI, InMemorySpanExporter], db: Database
) -> None:
    app, exporter = traced
    await write(db, document("https://example.com/traced", quote("Traced words.", MERZ)))
    claim_id = 987654321  # no such claim: a 404 after the look-up, with an id no SQL text holds
    exporter.clear()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        answer = await http.get(f"/v1/claims/{claim_id}", headers={"X-Request-ID": "trace-me-123"})
    assert answer.status_code == 404

    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.kind == SpanKind.SERVER]
    assert len(server) == 1
    request = server[0]
    assert request.name == "GET /v1/claims/{claim_id}"
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/v1/claims/{claim_id}"
    assert request.attributes["http.response.status_code"] == 404
    assert request.attributes["claims.request_id"] == "trace-me-123"
    sql = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert sql, [s.name for s in spans]
    assert request.context is not None
    for span in sql:
        assert span.parent is not None and span.parent.span_id == request.context.span_id
        assert span.context is not None and span.context.trace_id == request.context.trace_id
        assert span.attributes is not None and span.attributes["db.system.name"] == "postgresql"
        assert str(claim_id) not in str(span.attributes["db.query.text"])  # parameters are never recorded
        assert request.start_time is not None and span.start_time is not None and request.end_time is not None
        assert request.start_time <= span.start_time and span.end_time is not None and span.end_time <= request.end_time


async def test_a_traceparent_header_continues_the_callers_trace(traced: tuple[FastAPI, InMemorySpanExporter]) -> None:
    app, exporter = traced
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        assert (await http.get("/healthz", headers={"traceparent": parent})).status_code == 200
    (span,) = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert span.context is not None and f"{span.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"


def test_traces_are_off_unless_the_otel_variables_ask() -> None:
    assert tracing.tracer({}) is None
    assert not tracing.wanted({"OTEL_SERVICE_NAME": "claimsbase"})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"})
    assert not tracing.wanted({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.wanted({"OTEL_TRACES_EXPORTER": "otlp"})


SERVE_ONE = textwrap.dedent(
    """
    import asyncio, os, httpx
    from api.app import create_app
    from api.settings import Settings

    async def main():
        app = create_app(Settings(database_url=os.environ["DSN"], load_demo=False, rate_limit_per_minute=0))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                assert (await http.get("/v1/topics")).status_code == 200
        from opentelemetry import trace
        flush = getattr(trace.get_tracer_provider(), "force_flush", None)
        if flush is not None:
            flush()

    asyncio.run(main())
    """
)


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP endpoint on loopback that keeps what is posted to /v1/traces."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/v1/traces":
                received.append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("switch", [{}, {"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}], ids=str)
def test_otlp_exports_spans_when_an_endpoint_is_set_and_nothing_when_switched_off(
    collector: tuple[str, list[bytes]], server_dsn: str, switch: dict[str, str]
) -> None:
    endpoint, received = collector
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(DSN=server_dsn, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME="claimsbase-test", **switch)
    run = subprocess.run(
        [sys.executable, "-c", SERVE_ONE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr[-3000:]
    if switch:
        assert received == []
    else:
        assert received and any(b"GET /v1/topics" in body for body in received)
        assert any(b"claimsbase-test" in body for body in received)
