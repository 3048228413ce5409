"""OpenTelemetry traces, off unless the standard ``OTEL_*`` environment variables ask for them.

On when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``; ``console`` for a look on stderr) or
an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``…_TRACES_ENDPOINT``); off when
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none``. Everything else the SDK reads itself
(``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``, the sampler…).

Each HTTP request is a server span named ``METHOD /route/{template}`` (a ``traceparent`` header
continues the caller's trace), with the request id as ``claims.request_id``; each SQL statement run
through `db.database` is a client span under it, named by its verb, with the statement's text —
never its parameters (asyncpg sends them apart, as ``$1``…). When off, the front door and the
database check one attribute each and do nothing more.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
MAX_QUERY_TEXT = 4096

_provider: Any = None  # a TracerProvider set by `use` (tests), instead of one built from the environment


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return any(environ.get(name) for name in ENDPOINTS)


def use(provider: Any) -> None:
    """Trace with ``provider`` (an SDK ``TracerProvider``) in apps made from now on; None: the environment."""
    global _provider
    _provider = provider


def tracer(environ: Mapping[str, str] | None = None) -> Any:
    """The tracer for this app, or None when traces are off."""
    if _provider is not None:
        return _provider.get_tracer("claimsbase")
    env = os.environ if environ is None else environ
    if not wanted(env):
        return None
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "claimsbase")}))
    exporter: SpanExporter
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider.get_tracer("claimsbase")


class RequestSpan:
    """The server span of one HTTP request, current while the request is served."""

    __slots__ = ("span", "token")

    def __init__(self, tracer: Any, method: str, headers: list[tuple[bytes, bytes]], request_id: str) -> None:
        from opentelemetry import context, propagate, trace

        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers if k in (b"traceparent", b"tracestate")}
        parent = propagate.extract(carrier) if carrier else None
        self.span = tracer.start_span(
            method,
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "claims.request_id": request_id},
        )
        self.token = context.attach(trace.set_span_in_context(self.span))

    def end(self, method: str, route: str, status: int) -> None:
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        self.span.update_name(f"{method} {route}")
        self.span.set_attribute("http.route", route)
        self.span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self.span.set_status(Status(StatusCode.ERROR))
        self.span.end()
        context.detach(self.token)


class StatementSpans:
    """A `db.database.Database` statement timer: one client span per statement, after it ran."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer

    def __call__(self, sql: str, started: float) -> None:
        from opentelemetry import trace

        now_ns, elapsed = time.time_ns(), time.perf_counter() - started
        text = sql.strip()
        verb = text.split(None, 1)[0].upper() if text else "SQL"
        span = self.tracer.start_span(
            verb,
            kind=trace.SpanKind.CLIENT,
            start_time=now_ns - int(elapsed * 1e9),
            attributes={
                "db.system.name": "postgresql",
                "db.operation.name": verb,
                "db.query.text": text[:MAX_QUERY_TEXT],
            },
        )
        span.end(end_time=now_ns)
