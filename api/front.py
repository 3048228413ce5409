"""The front door: every HTTP request passes the cross-cutting steps here, in one place, in order.

    request id       kept when sane, else made up; on every response and log line
    CORS             preflights answered; allowed origins named on the response
    deadline         503 when no response has started in time
    body cap         413 past the limit (declared, or counted as the body streams)
    caller           the API key resolved (or the 401 it earns) and left in ``scope["state"]``; a
                     /v1 write without the write scope gets its 401 (or 403) here, before its body
    rate limit       per key, or per address without one → 429
    reads            ``HEAD`` answered as ``GET`` without the body; ``If-Match`` on a read checked
                     against the answer's ETag (412); ``OPTIONS`` answered with ``Allow``
    security headers added to whatever answers (a 405's ``Allow`` lists every method of the path),
                     then one access line

An early answer (401, 413, 429…) first reads and discards the unread body, up to a bound, so that a
client that writes its whole body before reading sees it rather than a reset connection.

Then an operation's plain shape answers, or the app's routes (FastAPI's router; `api.routing`
explains both, and `api.routing.route_table` lists the routes). Each step is
a small function or object of `api.steps`, `api.auth`, `api.ratelimit` or `api.logs`; this module
knows no endpoint. It is installed with Starlette's ``add_middleware`` as the outermost user
middleware, so everything the routes answer, including the exception handlers' problems, leaves
through its ``send``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import auth, compression, metrics, tracing
from api.asgi import header
from api.errors import PROBLEM, Problem
from api.logs import REQUEST_ID, access_log, configure_logging, flush_access_log
from api.ratelimit import RateLimiter, build_limiter
from api.routing import PlainShapes
from api.settings import Settings
from api.steps import (
    Cors,
    Counted,
    Deadlines,
    Headers,
    drain,
    request_id,
    safe_read,
    secure_headers,
    send_problem,
    too_large,
)
from db.database import DatabaseUnavailable
from db.keys import parse_token

STREAMED_UPLOADS = frozenset({("POST", "/v1/import")})  # no body cap, no deadline: capped per line
READING_POSTS = frozenset({"/v1/extract"})  # a POST that only reads (write=true checks the scope itself)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # on /v1, each needs at least the write scope
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes must never see a 429
ROUTER_405 = (b"content-type", PROBLEM.encode())  # how the router's 405 (api.errors) answers
KEY_PREFIX = "claims.key_prefix"  # scope["state"] entry for the access line
UNAVAILABLE = "The request could not be served (database unavailable); try again shortly."


def install(app: FastAPI, settings: Settings, shapes: PlainShapes, allowed: Callable[[str], bytes]) -> None:
    """Add the front door to ``app`` (call it last: the last middleware added is the outermost),
    and the rate limiter to its lifespan. ``shapes`` are the operations' plain shapes; ``allowed``
    names the methods served at a path (a 405's ``Allow``)."""
    configure_logging(settings.log_level)
    tracer = tracing.tracer()
    app.add_middleware(FrontDoor, settings=settings, shapes=shapes, allowed=allowed, tracer=tracer)
    if tracer is not None:
        spans = tracing.StatementSpans(tracer)
        app.state.startup.append(lambda app: _add_timer(app, spans))
        app.state.shutdown.append(lambda app: _remove_timer(app, spans))
    app.state.startup.append(start_limiter)
    app.state.shutdown.append(stop_limiter)
    app.state.shutdown.append(flush_logs)


async def _add_timer(app: FastAPI, timer: Callable[[str, float], None]) -> None:
    app.state.db.statement_timers.append(timer)


async def _remove_timer(app: FastAPI, timer: Callable[[str, float], None]) -> None:
    if timer in app.state.db.statement_timers:
        app.state.db.statement_timers.remove(timer)


async def start_limiter(app: FastAPI) -> None:
    """Build the rate limiter unless one is already set (tests inject their own) or limits are off."""
    settings: Settings = app.state.settings
    if getattr(app.state, "rate_limiter", None) is None and settings.rate_limit_per_minute > 0:
        app.state.rate_limiter = build_limiter(
            app.state.db,
            settings.rate_limit_per_minute,
            redis_url=settings.redis_url,
            batch=settings.rate_limit_batch,
        )


async def stop_limiter(app: FastAPI) -> None:
    """Close the limiter's connections."""
    limiter = getattr(app.state, "rate_limiter", None)
    if limiter is not None:
        await limiter.close()


async def flush_logs(app: FastAPI) -> None:
    """Write the access lines still queued (api.logs.AccessSink)."""
    flush_access_log()


class Early(Exception):
    """A step's own answer: the request goes no further (a 413, a 429, a CORS refusal…)."""

    def __init__(self, status: int, detail: str, kind: str, headers: Headers | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind, self.headers = status, detail, kind, headers or []


class FrontDoor:
    """ASGI: the steps of the module docstring around ``app``; websockets get a request id only."""

    def __init__(
        self, app: ASGIApp, settings: Settings, shapes: PlainShapes, allowed: Callable[[str], bytes], tracer: Any = None
    ) -> None:
        self.app = app
        self.shapes = shapes
        self.tracer = tracer  # an OpenTelemetry tracer when traces are on (api.tracing)
        self.allowed = allowed
        self.max_bytes = settings.max_body_bytes
        self.cors = Cors(settings.cors_origins) if settings.cors_origins else None
        self.clock = Deadlines(settings.request_timeout_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "websocket":
            token = REQUEST_ID.set(request_id(header(scope, b"x-request-id")))
            metrics.WEBSOCKETS.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                metrics.WEBSOCKETS.dec()
                REQUEST_ID.reset(token)
        else:
            await self.app(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(reversed(scope["headers"]))  # the first value of each request header
        rid = request_id(given.get(b"x-request-id"))
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        span = tracing.RequestSpan(self.tracer, scope["method"], scope["headers"], rid) if self.tracer else None
        id_header = (b"x-request-id", rid.encode())
        added: Headers = []  # rate-limit and CORS headers, once known
        status = 0
        method, path = scope["method"], scope["path"]
        client = scope["client"][0] if scope.get("client") else ""
        deadline = None if (method, path) in STREAMED_UPLOADS else self.clock.start()
        named_gzip = False
        if b"-gzip" in given.get(b"if-none-match", b"") or b"-gzip" in given.get(b"if-match", b""):
            scope["headers"], named_gzip = compression.unsuffixed(scope["headers"])
        # gzip in this send, not Starlette's GZipMiddleware: that would be one more layer on every request.
        gzip = (
            compression.Gzip(named_gzip)
            if method != "HEAD" and compression.accepts_gzip(given.get(b"accept-encoding"))
            else None
        )

        async def send_out(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if deadline is not None:
                    self.clock.stop(deadline)
                headers = message.get("headers", ())
                if status == 405 and ROUTER_405 in headers:
                    # The router's problem answer names one route's methods; an endpoint's own 405
                    # (a GraphQL mutation over GET: Allow: POST) names what this request may use.
                    headers = [(k, v) for k, v in headers if k != b"allow"] + [(b"allow", self.allowed(path))]
                message["headers"] = secure_headers(headers, id_header, added)
            if gzip is not None:
                await gzip.send(message, send)
            else:
                await send(message)

        try:
            origin = given.get(b"origin")
            if origin is not None and self.cors is not None:
                if self.cors.preflight(scope, origin):
                    await self.cors.answer(scope, send_out, origin)
                    return
                added += self.cors.headers(origin)
            counted = self.body_cap(method, path, given.get(b"content-length"))
            bucket = await self.identify(scope, given.get(b"x-api-key"), client)
            if path not in UNLIMITED_PATHS:
                added[:0] = await rate_limit(scope["app"].state, bucket)
            if method in WRITES and path.startswith("/v1/") and path not in READING_POSTS:
                self.authenticated_write(scope, method, path)
            if method == "OPTIONS" and (allow := self.allowed(path)):
                await send_out({"type": "http.response.start", "status": 204, "headers": [(b"allow", allow)]})
                await send_out({"type": "http.response.body", "body": b""})
                return
            scope, send_read = safe_read(scope, send_out)
            if not counted:
                left = await self.plain(scope, receive, scope["method"], path, send_read)
                if left is None:
                    return
                receive = left
            app = Counted(self.app, self.max_bytes) if counted else self.app
            await app(scope, receive, send_read)
        except Early as early:
            await drain(receive, given)
            await send_problem(send_out, early.status, early.detail, kind=early.kind, headers=early.headers)
        except asyncio.CancelledError:
            if deadline is None or not self.clock.expired(deadline) or status:
                raise
            detail = f"The request took longer than the {self.clock.seconds:g} s limit (CLAIMS_REQUEST_TIMEOUT_S)."
            await send_problem(send_out, 503, detail, kind="timeout", headers=[(b"retry-after", b"2")])
        except Exception:
            if status == 0:
                await send_problem(send_out, 500, "An internal error occurred.", kind="internal")
            raise
        finally:
            if deadline is not None:
                self.clock.forget(deadline)
            state = scope.get("state")
            key_prefix = state.get(KEY_PREFIX) if state else None
            access_log(method, path, client or None, status or 500, started, key_prefix, rid)
            metrics.requests.observe(scope, method, status or 500, time.perf_counter() - started)
            if span is not None:
                span.end(method, metrics.requests.route(scope), status or 500)
            REQUEST_ID.reset(token)

    async def plain(self, scope: Scope, receive: Receive, method: str, path: str, send: Send) -> Receive | None:
        """Answer with the operation's plain shape (`api.routing`) if it has one for this request:
        None once answered; else the ``receive`` the routes read the request from (the body again,
        when the shape read it). The routes also answer when the shape raised (see `api.routing`)."""
        found = self.shapes.find(method, path)
        if found is None:
            return receive
        shortcut, scope["path_params"] = found
        body = b""
        if method != "GET" and method != "HEAD":
            read = await read_body(receive)
            if read is None:
                return None  # the client left: nobody to answer
            body, receive = read, replay(read, receive)
        try:
            answer = await shortcut(scope, body)
        except Exception:  # a read: FastAPI's way runs it again and its handlers answer
            return receive
        if answer is None:
            return receive
        scope["route"] = self.shapes.owners[shortcut]  # as routing leaves it: metrics and traces name it
        await answer.send(send)
        return None

    def body_cap(self, method: str, path: str, length: bytes | None) -> bool:
        """Refuse a declared body over the cap (413); True when the body must be counted as it
        streams (no Content-Length on a method that has a body)."""
        if self.max_bytes <= 0 or (method, path) in STREAMED_UPLOADS:
            return False
        if length is not None and length.isdigit():
            if int(length) > self.max_bytes:
                raise Early(413, too_large(self.max_bytes), "request-too-large")
            return False
        return method != "GET" and method != "HEAD"  # nothing here reads a GET's body

    def authenticated_write(self, scope: Scope, method: str, path: str) -> None:
        """`Early` 401 (or 403) for a /v1 write by a caller without the write scope, before its
        body is read; a method the path does not serve goes on to its 405."""
        if method.encode() not in self.allowed(path).split(b", "):
            return
        refused = auth.refusal(scope, "write")
        if refused is not None:
            headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in refused.headers.items()]
            raise Early(refused.status, refused.detail, refused.kind, headers)

    async def identify(self, scope: Scope, api_key: bytes | None, client: str) -> str:
        """Leave the caller (or its 401) in the scope's state for the routes (`auth.require`); the
        rate-limit bucket: the key's when it is valid, else the client address's."""
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        authenticator = auth.authenticator(scope["app"].state)
        token = api_key.decode("latin-1").strip() if api_key else ""
        if not token:
            state[auth.STATE_KEY] = authenticator.anonymous(client)
            return "ip:" + client
        state[KEY_PREFIX] = parse_token(token)
        try:
            caller = await authenticator.caller(token, client)
        except Problem as refused:
            state[auth.STATE_KEY] = refused
            return "ip:" + client
        except DatabaseUnavailable:
            raise Early(503, UNAVAILABLE, "unavailable", [(b"retry-after", b"2")]) from None
        state[auth.STATE_KEY] = caller
        return f"key:{caller.key_id}"


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body (its length was checked against the cap), or None if the client left."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` again, then whatever ``receive`` gives (a disconnect)."""
    given = False

    async def again() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def rate_limit(app_state: Any, bucket: str) -> Headers:
    """Spend one request of ``bucket``'s allowance: its RateLimit headers, or `Early` 429."""
    limiter: RateLimiter | None = getattr(app_state, "rate_limiter", None)
    if limiter is None:
        return []
    spent = limiter.spend(bucket)  # the usual case: a hit this worker has already reserved
    if spent is not None:
        return spent
    decision = await limiter.hit(bucket)
    if not decision.allowed:
        metrics.REFUSALS.inc()
        detail = f"More than {decision.limit} requests a minute (CLAIMS_RATE_LIMIT_PER_MINUTE); retry in {decision.reset_s} s."  # noqa: E501
        raise Early(429, detail, "rate-limited", decision.headers())
    return decision.headers()
