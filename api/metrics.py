"""Prometheus metrics at ``GET /metrics`` (prometheus-client's text format).

Requests are counted where the access line is written (`api.front.FrontDoor`'s ``finally``), by the
route's template, never the raw path, so a label set stays small whatever clients send. The pool's
figures and the statement timeouts are plain numbers in `db/` (db knows nothing of Prometheus);
`Sampler` copies them into gauges and counters once a second, so no statement pays for them.

Several workers (``claims serve --workers N``) share their figures through prometheus-client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` names a folder each worker writes its values to,
and the worker that answers a scrape adds them all up (``claims serve`` sets one up by itself).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute

from api.auth import require
from api.settings import Settings
from db.database import StatementTimeout

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_S = 1.0
UNROUTED = "unrouted"  # answered before routing (429, 413, CORS) or matching no route (404)
OTHER = "other"  # GraphQL operation names past `MAX_OPERATION_NAMES`, or not names at all
MAX_OPERATION_NAMES = 200
OPERATION_NAME = re.compile(r"\A[_A-Za-z][_0-9A-Za-z]{0,63}\Z")
# Latency buckets (seconds): a cached read takes a millisecond, a request times out at 15 s.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("claims_http_requests", "HTTP requests answered.", ["route", "method", "status"], registry=REGISTRY)
LATENCY = Histogram(
    "claims_http_request_duration_seconds",
    "Time from a request's arrival to its access line.",
    ["route", "method"],
    buckets=BUCKETS,
    registry=REGISTRY,
)
GRAPHQL = Counter(
    "claims_graphql_operations", "GraphQL operations run over HTTP.", ["operation", "outcome"], registry=REGISTRY
)
POOL_SIZE = Gauge(
    "claims_db_pool_connections", "Connections open in the pools.", registry=REGISTRY, multiprocess_mode="livesum"
)
POOL_IN_USE = Gauge(
    "claims_db_pool_in_use", "Connections lent out of the pools.", registry=REGISTRY, multiprocess_mode="livesum"
)
POOL_WAITS = Counter("claims_db_pool_waits", "Times a caller had to wait for a connection.", registry=REGISTRY)
TIMEOUTS = Counter("claims_db_statement_timeouts", "Statements stopped by statement_timeout.", registry=REGISTRY)
REFUSALS = Counter("claims_rate_limit_refusals", "Requests refused with 429 by the rate limit.", registry=REGISTRY)
WEBSOCKETS = Gauge(
    "claims_websocket_connections",
    "Open websocket connections (GraphQL subscriptions).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
IMPORTED = Counter("claims_import_records", "Records of POST /v1/import by outcome.", ["outcome"], registry=REGISTRY)


class Requests:
    """The per-request figures, with each label set's children kept (``labels()`` takes a lock
    and builds a key on every call; a dict look-up is all a known label set costs here)."""

    def __init__(self) -> None:
        self.counted: dict[tuple[str, str, int], Any] = {}
        self.timed: dict[tuple[str, str], Any] = {}
        self.templates: dict[Any, str] = {}  # endpoint (or mounted app) → its route's template

    def observe(self, scope: MutableMapping[str, Any], method: str, status: int, seconds: float) -> None:
        """Count one answered request (`FrontDoor` calls this beside the access line)."""
        template = self.route(scope)
        counted = self.counted.get((template, method, status))
        if counted is None:
            counted = self.counted[(template, method, status)] = REQUESTS.labels(template, method, str(status))
        counted.inc()
        timed = self.timed.get((template, method))
        if timed is None:
            timed = self.timed[(template, method)] = LATENCY.labels(template, method)
        timed.observe(seconds)

    def route(self, scope: MutableMapping[str, Any]) -> str:
        """The template of the route that answered the request, or `UNROUTED`."""
        route = scope.get("route")
        return route.path if route is not None else self.template(scope)

    def template(self, scope: MutableMapping[str, Any]) -> str:
        """The template of the route that answered, found by its endpoint: FastAPI leaves the route
        in the scope for its own routes only, not for plain Starlette routes and mounts."""
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNROUTED
        found = self.templates.get(endpoint)
        if found is None:
            for route in getattr(scope.get("app"), "routes", ()):
                if isinstance(route, Route | WebSocketRoute):
                    self.templates[route.endpoint] = route.path
                elif isinstance(route, Mount):
                    self.templates[route.app] = route.path + "/{path}"
            found = self.templates.setdefault(endpoint, UNROUTED)
        return found


requests = Requests()
_names: set[str] = set()


def graphql_operation(name: object, outcome: str) -> None:
    """Count one GraphQL operation; names are the client's, so only the first few hundred distinct
    well-formed ones get their own label."""
    label = name if isinstance(name, str) and OPERATION_NAME.match(name) else OTHER
    if label not in _names:
        if len(_names) >= MAX_OPERATION_NAMES:
            label = OTHER
        else:
            _names.add(label)
    GRAPHQL.labels(label, outcome).inc()


def graphql_outcome(status: int, payload: bytes) -> str:
    """``ok``, ``error`` (the answer carries errors) or ``refused`` (a 4xx: never ran)."""
    if status >= 400:
        return "refused"
    if payload.startswith(b'{"errors"') or b',"errors":[{"message"' in payload:
        return "error"
    return "ok"


def imported(created: int, unchanged: int, failed: int) -> None:
    """Count the records of one ``POST /v1/import`` (``created`` and ``unchanged`` were written)."""
    for outcome, n in (("created", created), ("unchanged", unchanged), ("failed", failed)):
        if n:
            IMPORTED.labels(outcome).inc(n)


class Sampler:
    """Copies the pool's figures and the statement timeouts into the metrics every `SAMPLE_S`."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.waits = 0
        self.timeouts = StatementTimeout.raised
        self.task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        pool = getattr(getattr(self.app.state, "db", None), "pool", None)
        if pool is not None:
            POOL_SIZE.set(pool.get_size())
            POOL_IN_USE.set(pool.get_size() - pool.get_idle_size())
            if pool.waits > self.waits:
                POOL_WAITS.inc(pool.waits - self.waits)
            self.waits = pool.waits
        if StatementTimeout.raised > self.timeouts:
            TIMEOUTS.inc(StatementTimeout.raised - self.timeouts)
            self.timeouts = StatementTimeout.raised

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_S)


def exposition(accept: str = "") -> tuple[bytes, str]:
    """The body and type a scrape gets (the format its Accept asks for): this process's figures, or
    every worker's in multiprocess mode."""
    encoder, content_type = choose_encoder(accept)
    if os.environ.get(MULTIPROCESS):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return encoder(registry), content_type
    return encoder(REGISTRY), content_type


def install(app: FastAPI, settings: Settings) -> None:
    """``GET /metrics`` as ``CLAIMS_METRICS`` says (``admin``: an admin key; ``public``; ``off``)."""
    if settings.metrics == "off":
        return
    sampler = Sampler(app)
    guard: Callable[[Request], Any] | None = require("admin") if settings.metrics == "admin" else None

    async def metrics(request: Request) -> Response:
        if guard is not None:
            await guard(request)
        sampler.sample()  # the scraping worker's own figures are current
        body, content_type = exposition(request.headers.get("accept", ""))
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    async def start(app: FastAPI) -> None:
        sampler.task = asyncio.create_task(sampler.run())

    async def stop(app: FastAPI) -> None:
        if sampler.task is not None:
            sampler.task.cancel()
        if os.environ.get(MULTIPROCESS):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # out of the live sums

    app.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    app.state.startup.append(start)
    app.state.shutdown.append(stop)
