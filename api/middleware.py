"""Cross-cutting HTTP behaviour: request ids, security headers, CORS, body caps, timeouts, logs, limits.

Every layer is a plain ASGI class (no ``BaseHTTPMiddleware``: it costs a task per request and
buffers streams). From the outside in::

    RequestContext   request id, security headers, one JSON log line; wraps even the 500 handler
    Cors             only when CLAIMS_CORS_ORIGINS is set; answers preflights itself
    Timeout          503 when no response has started within CLAIMS_REQUEST_TIMEOUT_S
    BodyLimit        413 past CLAIMS_MAX_BODY_BYTES (Content-Length, then bytes as they stream)
    Access           resolves X-API-Key (cached), then rate-limits per key or per address → 429
    HotRoutes        the busiest requests straight to their endpoints (api.hot); the rest to
    (FastAPI's stack: ServerErrorMiddleware, user middleware, exception handlers, routing)

``POST /v1/import`` streams NDJSON of any length, so it is exempt from the body cap and the
timeout; it caps each line (CLAIMS_MAX_IMPORT_LINE_BYTES) as it reads (``api.rest.imports``).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import auth, docs
from api.errors import Problem, problem_response
from api.hot import HotRoutes
from api.logs import REQUEST_ID, access_log, configure_logging, flush_access_log
from api.ratelimit import build_limiter
from api.settings import Settings
from db.database import DatabaseUnavailable
from db.keys import parse_token

Headers = list[tuple[bytes, bytes]]

STREAMED_UPLOADS = frozenset({("POST", "/v1/import")})  # no body cap, no timeout: capped per line
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes must never see a 429
KEY_PREFIX = "claims.key_prefix"  # scope["state"] entry for the log line

_SANE_ID = re.compile(rb"\A[A-Za-z0-9._:@/+=-]{1,128}\Z")
# For JSON (and anything else that is not a docs page): nothing but this origin, and never framed.
API_CSP = b"default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
# The docs pages (Swagger UI, ReDoc, GraphiQL) boot with inline script and style: api.docs's policy.
DOCS_CSP = (docs.CONTENT_SECURITY_POLICY + "; frame-ancestors 'self'").encode()
SECURITY = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
FRAME_DENY = (b"x-frame-options", b"DENY")
FRAME_SAMEORIGIN = (b"x-frame-options", b"SAMEORIGIN")


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware stack to ``app``, and the rate limiter to its lifespan."""
    configure_logging(settings.log_level)
    build = app.build_middleware_stack

    def build_around() -> ASGIApp:
        inner: ASGIApp = Access(HotRoutes(build(), app.state), app_state=app.state)
        inner = Timeout(BodyLimit(inner, max_bytes=settings.max_body_bytes), seconds=settings.request_timeout_s)
        if settings.cors_origins:
            inner = Cors(inner, origins=settings.cors_origins)
        return RequestContext(inner)

    # Around Starlette's own stack (ServerErrorMiddleware outermost), so even its 500 answers carry
    # the id and headers, and the hot routes (api.hot) get every layer here without FastAPI's.
    app.build_middleware_stack = build_around  # type: ignore[method-assign]
    app.state.startup.append(start_limiter)
    app.state.shutdown.append(stop_limiter)
    app.state.shutdown.append(flush_logs)


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


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of request header ``name`` (lower-case bytes, as ASGI gives them)."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


async def send_problem(
    send: Send, status: int, detail: str, *, kind: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answer with a problem document straight from middleware, before any route ran."""
    response = problem_response(status, detail, kind=kind)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*response.raw_headers, *headers],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


class RequestContext:
    """Request id in (sane ``X-Request-Id``) or made up, and out on every response and log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        request_id = incoming.decode() if incoming and _SANE_ID.match(incoming) else os.urandom(16).hex()
        token = REQUEST_ID.set(request_id)
        if scope["type"] == "websocket":
            try:
                await self.app(scope, receive, send)
            finally:
                REQUEST_ID.reset(token)
            return
        started = time.perf_counter()
        status = 0
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = secure_headers(message.get("headers", ()), id_header)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if status == 0:
                await send_problem(send_with_headers, 500, "An internal error occurred.", kind="internal")
            raise
        finally:
            state = scope.get("state")
            access_log(scope, status or 500, started, state.get(KEY_PREFIX) if state else None)
            REQUEST_ID.reset(token)


def secure_headers(headers: Iterable[tuple[bytes, bytes]], id_header: tuple[bytes, bytes]) -> Headers:
    """``headers`` plus the request id and the security headers the response does not set itself.

    Names are compared as given: Starlette (and so every response here) writes them in lower case.
    """
    out = list(headers)
    html = has_csp = has_frame = False
    for name, value in out:
        if name == b"content-type":
            html = value.startswith(b"text/html")
        elif name == b"content-security-policy":
            has_csp = True
        elif name == b"x-frame-options":
            has_frame = True
    out += (id_header, *SECURITY)
    if not has_frame:
        out.append(FRAME_SAMEORIGIN if html else FRAME_DENY)
    if not has_csp:
        out.append((b"content-security-policy", DOCS_CSP if html else API_CSP))
    return out


class Cors:
    """CORS for ``origins`` (``*`` allows any): preflights answered here, refusals as problem+json.

    No cookies are involved (keys travel in ``X-API-Key``), so credentials are never allowed, and an
    allowed origin may send any request header.
    """

    METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
    EXPOSE = b"X-Request-Id, ETag, Link, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy"  # noqa: E501

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.any = "*" in origins
        self.origins = frozenset(o.rstrip("/").encode() for o in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = header(scope, b"origin") if scope["type"] == "http" else None
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.any or origin in self.origins
        wanted = header(scope, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and wanted is not None:
            await self.preflight(scope, send, origin, allowed, wanted)
            return
        extra: Headers = [(b"vary", b"Origin")]
        if allowed:
            extra += [
                (b"access-control-allow-origin", b"*" if self.any else origin),
                (b"access-control-expose-headers", self.EXPOSE),
            ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def preflight(self, scope: Scope, send: Send, origin: bytes, allowed: bool, wanted: bytes) -> None:
        if not allowed:
            detail = f"Origin {origin.decode(errors='replace')!r} is not allowed (CLAIMS_CORS_ORIGINS)."
            await send_problem(send, 403, detail, kind="cors", headers=[(b"vary", b"Origin")])
            return
        if wanted.upper() not in self.METHODS.split(b", "):
            detail = f"Method {wanted.decode(errors='replace')!r} is not allowed across origins."
            await send_problem(send, 403, detail, kind="cors", headers=[(b"vary", b"Origin")])
            return
        headers: Headers = [
            (b"access-control-allow-origin", b"*" if self.any else origin),
            (b"access-control-allow-methods", self.METHODS),
            (b"access-control-max-age", b"600"),
            (b"vary", b"Origin"),
        ]
        asked = header(scope, b"access-control-request-headers")
        if asked:
            headers.append((b"access-control-allow-headers", asked))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


class Timeout:
    """503 when the app has not started its response within ``seconds``; streaming bodies run on.

    One sweeper task per event loop checks the requests in flight every ``tick`` seconds and
    cancels those past their deadline, so a request costs a dict entry, not a timer: with
    ``asyncio.timeout`` every request pushed a handle onto the loop's timer heap (and, cancelled,
    it stayed there until its time came), which measured about 20 µs a request under load. The
    limit is therefore honoured to within a tick.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds
        self.tick = min(0.25, seconds / 4)
        self.deadlines: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self.sweeper: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0 or (scope["method"], scope["path"]) in STREAMED_UPLOADS:
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        self.deadlines[task] = time.monotonic() + self.seconds
        if self.sweeper is None:
            self.sweeper = asyncio.get_running_loop().create_task(self.sweep())
        started = False

        async def send_and_stop_clock(message: Message) -> None:
            nonlocal started
            if not started and message["type"] == "http.response.start":
                started = True
                self.deadlines.pop(task, None)
            await send(message)

        try:
            await self.app(scope, receive, send_and_stop_clock)
        except asyncio.CancelledError:
            if task not in self.expired:
                raise
            task.uncancel()
            if started:
                raise
            detail = f"The request took longer than the {self.seconds:g} s limit (CLAIMS_REQUEST_TIMEOUT_S)."
            await send_problem(send, 503, detail, kind="timeout", headers=[(b"retry-after", b"2")])
        finally:
            self.deadlines.pop(task, None)
            self.expired.discard(task)

    async def sweep(self) -> None:
        """Cancel overdue requests until none is in flight."""
        try:
            while self.deadlines:
                await asyncio.sleep(self.tick)
                now = time.monotonic()
                overdue = [task for task, deadline in self.deadlines.items() if deadline <= now]
                for task in overdue:
                    del self.deadlines[task]
                    self.expired.add(task)
                    task.cancel()
        finally:
            self.sweeper = None


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` past the cap; FastAPI lets HTTPExceptions out of body parsing unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the {limit}-byte limit (CLAIMS_MAX_BODY_BYTES).")


class BodyLimit:
    """413 for a declared ``Content-Length`` over ``max_bytes``, or once that many bytes have streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0 or (scope["method"], scope["path"]) in STREAMED_UPLOADS:
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await send_problem(send, 413, BodyTooLarge(self.max_bytes).detail, kind="request-too-large")
                return
            await self.app(scope, receive, send)  # the server holds the body to its declared length
            return
        if scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)  # nothing here reads a GET's body
            return
        await self.counted(scope, receive, send)

    async def counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = 0
        over = started = dropping = False
        detail = BodyTooLarge(self.max_bytes).detail

        async def receive_counted() -> Message:
            nonlocal seen, over
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                over = True
                raise BodyTooLarge(self.max_bytes)
            return message

        async def send_413_when_over(message: Message) -> None:
            # Code between the read and the response may have turned the overflow into another
            # answer (a 400 "could not parse"); the client is told about the limit instead.
            nonlocal started, dropping
            if message["type"] == "http.response.start":
                started = True
                if over and message["status"] != 413:
                    dropping = True
                    await send_problem(send, 413, detail, kind="request-too-large")
            if not dropping:
                await send(message)

        try:
            await self.app(scope, receive_counted, send_413_when_over)
        except BodyTooLarge:
            if started:
                raise
        if over and not started:
            await send_problem(send, 413, detail, kind="request-too-large")


class Access:
    """Resolve ``X-API-Key`` once per request for the route dependencies, then apply the rate limit.

    The caller (or the 401 to raise) goes to ``scope["state"]`` for `api.auth.require`. The bucket
    is the key when it is valid, else the client address — so an invalid key cannot buy a fresh one.
    """

    def __init__(self, app: ASGIApp, app_state: Any) -> None:
        self.app = app
        self.app_state = app_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else ""
        bucket = "ip:" + client
        token = header(scope, b"x-api-key")
        if token:
            try:
                bucket = await self.identify(scope, token.decode("latin-1").strip(), client) or bucket
            except DatabaseUnavailable:
                detail = "The request could not be served (database unavailable); try again shortly."
                await send_problem(send, 503, detail, kind="unavailable", headers=[(b"retry-after", b"2")])
                return
        limiter = getattr(self.app_state, "rate_limiter", None)
        if limiter is None or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        decision = await limiter.hit(bucket)
        limits = decision.headers()
        if not decision.allowed:
            detail = f"More than {decision.limit} requests a minute (CLAIMS_RATE_LIMIT_PER_MINUTE); retry in {decision.reset_s} s."  # noqa: E501
            await send_problem(send, 429, detail, kind="rate-limited", headers=limits)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *limits]
            await send(message)

        await self.app(scope, receive, send_with_limits)

    async def identify(self, scope: Scope, token: str, client: str) -> str | None:
        """Leave the caller (or its 401) in the scope's state; the key's bucket when it is valid."""
        state = scope.setdefault("state", {})
        state[KEY_PREFIX] = parse_token(token)
        try:
            caller = await auth.authenticator(self.app_state).caller(token, client)
        except Problem as exc:
            state[auth.STATE_KEY] = exc
            return None
        state[auth.STATE_KEY] = caller
        return f"key:{caller.key_id}"
