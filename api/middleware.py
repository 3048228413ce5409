"""Cross-cutting HTTP behaviour: request ids, security headers, CORS, body caps, timeouts, logs, limits.

One plain ASGI layer, `Gate`, does all of it (no ``BaseHTTPMiddleware``: it costs a task per
request and buffers streams). It used to be five nested layers, each with its own frame, header
scan and ``send`` wrapper; as steps of one call they cost about 15 µs a request instead of 20
(measured with a do-nothing app inside), in the order they used to nest::

    request id       sane ``X-Request-Id`` kept, else made up; out on every response and log line
    CORS             only when CLAIMS_CORS_ORIGINS is set; answers preflights itself
    timeout          503 when no response has started within CLAIMS_REQUEST_TIMEOUT_S
    body cap         413 past CLAIMS_MAX_BODY_BYTES (Content-Length, then bytes as they stream)
    access           resolves X-API-Key (cached), then rate-limits per key or per address → 429
    HotRoutes        the busiest requests straight to their endpoints (api.hot; the claim read is
                     answered here, with `HotRoutes.read_claim`); the rest to
    (FastAPI's stack: ServerErrorMiddleware, user middleware, exception handlers, routing)

Every response, whoever answers it, leaves through one ``send`` that adds the rate-limit, CORS,
request-id and security headers, and is counted in one JSON access line.

``POST /v1/import`` streams NDJSON of any length, so it is exempt from the body cap and the
timeout; it caps each line (CLAIMS_MAX_IMPORT_LINE_BYTES) as it reads (``api.rest.imports``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import auth, docs
from api.asgi import header
from api.errors import Problem, problem_response
from api.hot import HotRoutes
from api.hot import problem as hot_problem
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


class _RequestIds:
    """Made-up request ids: this process's random 64-bit prefix and a counter, 32 hex digits like
    a random id's, unique without a system call per request (``os.urandom`` was one). A forked
    child draws a prefix of its own."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFFFFFF:016x}"


new_request_id = _RequestIds()


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware to ``app``, and the rate limiter to its lifespan."""
    configure_logging(settings.log_level)
    build = app.build_middleware_stack

    def build_around() -> ASGIApp:
        return Gate(HotRoutes(build(), app.state), app.state, settings)

    # Around Starlette's own stack (ServerErrorMiddleware outermost), so even its 500 answers carry
    # the id and headers, and the hot routes (api.hot) get everything here without FastAPI's layers.
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


def secure_headers(
    headers: Iterable[tuple[bytes, bytes]],
    id_header: tuple[bytes, bytes],
    added: Iterable[tuple[bytes, bytes]] = (),
) -> Headers:
    """The response's ``headers``, then ``added`` (rate-limit and CORS headers, from here), the
    request id and the security headers the response does not set itself.

    Names are compared as given: Starlette (and so every response here) writes them in lower case.
    """
    out = list(headers)
    given = dict(out)  # looked up in C, not a Python loop over every header (the last one counts)
    html = given.get(b"content-type", b"").startswith(b"text/html")
    has_csp = b"content-security-policy" in given
    has_frame = b"x-frame-options" in given
    out += added
    out.append(id_header)
    if not (has_frame or has_csp):  # the usual case: all of them, from one constant
        out += _HTML_SECURITY if html else _API_SECURITY
        return out
    out += SECURITY
    if not has_frame:
        out.append(FRAME_SAMEORIGIN if html else FRAME_DENY)
    if not has_csp:
        out.append((b"content-security-policy", DOCS_CSP if html else API_CSP))
    return out


_API_SECURITY = (*SECURITY, FRAME_DENY, (b"content-security-policy", API_CSP))
_HTML_SECURITY = (*SECURITY, FRAME_SAMEORIGIN, (b"content-security-policy", DOCS_CSP))


class Gate:
    """ASGI: the steps of the module docstring around ``app``, for HTTP; websockets get the request id."""

    def __init__(self, app: ASGIApp, app_state: Any, settings: Settings) -> None:
        self.app = app
        self.app_state = app_state
        self.max_bytes = settings.max_body_bytes
        self.cors = Cors(settings.cors_origins) if settings.cors_origins else None
        self.clock = Deadlines(settings.request_timeout_s)
        # What the app's state holds, read per request (tests swap the limiter in after start-up)
        # without Starlette's `State.__getattr__`, a Python call per attribute.
        self.state: dict[str, Any] = app_state._state
        self.hot = app if isinstance(app, HotRoutes) else None  # whose claim reads are answered here

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] != "websocket":
                await self.app(scope, receive, send)
                return
            incoming = header(scope, b"x-request-id")
            token = REQUEST_ID.set(incoming.decode() if incoming and _SANE_ID.match(incoming) else new_request_id())
            try:
                await self.app(scope, receive, send)
            finally:
                REQUEST_ID.reset(token)
            return
        given = dict(reversed(scope["headers"]))  # the four headers read here, the first of each, in C
        incoming = given.get(b"x-request-id")
        origin = given.get(b"origin")
        length = given.get(b"content-length")
        api_key = given.get(b"x-api-key")
        request_id = incoming.decode() if incoming and _SANE_ID.match(incoming) else new_request_id()
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        id_header = (b"x-request-id", request_id.encode())
        added: Headers = []  # rate-limit and CORS headers, once known
        status = 0
        method, path = scope["method"], scope["path"]
        client = scope["client"][0] if scope.get("client") else ""
        streamed = (method, path) in STREAMED_UPLOADS
        task = None if streamed else self.clock.start()

        async def send_out(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if task is not None:
                    self.clock.stop(task)
                message["headers"] = secure_headers(message.get("headers", ()), id_header, added)
            await send(message)

        try:
            # CORS, the body cap and access, in that order; then the app, unless one of them answered.
            if origin is not None and self.cors is not None:
                if self.cors.preflight(scope, origin):
                    await self.cors.answer(scope, send_out, origin)
                    return
                added += self.cors.headers(origin)
            counted = False
            if not streamed and self.max_bytes > 0:
                if length is not None and length.isdigit():
                    if int(length) > self.max_bytes:
                        await send_problem(send_out, 413, _too_large(self.max_bytes), kind="request-too-large")
                        return
                elif method != "GET" and method != "HEAD":  # nothing here reads a GET's body
                    counted = True
            if api_key and (key_token := api_key.decode("latin-1").strip()):
                try:
                    bucket = await self.identify(scope, key_token, client) or "ip:" + client
                except DatabaseUnavailable:
                    detail = "The request could not be served (database unavailable); try again shortly."
                    headers = [(b"retry-after", b"2")]
                    await send_problem(send_out, 503, detail, kind="unavailable", headers=headers)
                    return
            else:  # the routes' `auth.require` finds the caller here instead of reading the headers again
                bucket = "ip:" + client
                state = scope.get("state")
                if state is None:
                    state = scope["state"] = {}
                authenticator = self.state.get("authenticator") or auth.authenticator(self.app_state)
                state[auth.STATE_KEY] = authenticator.anonymous(client)
            limiter = self.state.get("rate_limiter")
            if limiter is not None and path not in UNLIMITED_PATHS:
                spent = limiter.spend(bucket)  # the usual case: a hit this worker reserved already
                if spent is None:
                    decision = await limiter.hit(bucket)
                    if not decision.allowed:
                        detail = f"More than {decision.limit} requests a minute (CLAIMS_RATE_LIMIT_PER_MINUTE); retry in {decision.reset_s} s."  # noqa: E501
                        await send_problem(send_out, 429, detail, kind="rate-limited", headers=decision.headers())
                        return
                    spent = decision.headers()
                added[:0] = spent  # before the CORS headers, as the layers used to add them
            if counted:
                await Counted(self.app, self.max_bytes)(scope, receive, send_out)
            elif self.hot is not None and (claim_id := self.hot.claim_read(scope, given.get(b"accept"))) is not None:
                # The busiest request, answered here: no `send_out` in between, and the security
                # headers of JSON (its headers never carry their own).
                try:
                    status, headers, body = await self.hot.read_claim(claim_id, given.get(b"if-none-match"))
                except Exception as exc:
                    await hot_problem(scope, receive, send_out, exc)
                    return
                if task is not None:  # the response starts: no deadline (what `finally` would forget)
                    self.clock.forget(task)
                    task = None
                headers += added
                headers.append(id_header)
                headers += _API_SECURITY
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
            else:
                await self.app(scope, receive, send_out)
        except asyncio.CancelledError:
            if task is None or not self.clock.expired(task) or status:
                raise
            detail = f"The request took longer than the {self.clock.seconds:g} s limit (CLAIMS_REQUEST_TIMEOUT_S)."
            await send_problem(send_out, 503, detail, kind="timeout", headers=[(b"retry-after", b"2")])
        except Exception:
            if status == 0:
                await send_problem(send_out, 500, "An internal error occurred.", kind="internal")
            raise
        finally:
            if task is not None:
                self.clock.forget(task)
            state = scope.get("state")
            key_prefix = state.get(KEY_PREFIX) if state else None
            access_log(method, path, client or None, status or 500, started, key_prefix, request_id)
            REQUEST_ID.reset(token)

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


class Cors:
    """CORS for ``origins`` (``*`` allows any): preflights answered here, refusals as problem+json.

    No cookies are involved (keys travel in ``X-API-Key``), so credentials are never allowed, and an
    allowed origin may send any request header.
    """

    METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
    EXPOSE = b"X-Request-Id, ETag, Link, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy"  # noqa: E501

    def __init__(self, origins: tuple[str, ...]) -> None:
        self.any = "*" in origins
        self.origins = frozenset(o.rstrip("/").encode() for o in origins)

    def allowed(self, origin: bytes) -> bool:
        return self.any or origin in self.origins

    @staticmethod
    def preflight(scope: Scope, origin: bytes) -> bool:
        return scope["method"] == "OPTIONS" and header(scope, b"access-control-request-method") is not None

    def headers(self, origin: bytes) -> Headers:
        """What an actual (not preflight) cross-origin request's response carries."""
        if not self.allowed(origin):
            return [(b"vary", b"Origin")]
        return [
            (b"vary", b"Origin"),
            (b"access-control-allow-origin", b"*" if self.any else origin),
            (b"access-control-expose-headers", self.EXPOSE),
        ]

    async def answer(self, scope: Scope, send: Send, origin: bytes) -> None:
        """The preflight's answer: 204 with what may be sent, or a 403 problem saying why not."""
        wanted = header(scope, b"access-control-request-method") or b""
        if not self.allowed(origin):
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


class Deadlines:
    """The request timeout: one sweeper task per event loop checks the requests in flight every
    ``tick`` seconds and cancels those past their deadline, so a request costs a dict entry, not a
    timer: with ``asyncio.timeout`` every request pushed a handle onto the loop's timer heap (and,
    cancelled, it stayed there until its time came), which measured about 20 µs a request under
    load. The limit is therefore honoured to within a tick. ``seconds <= 0``: no limit.
    """

    IDLE_TICKS = 8

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.tick = min(0.25, seconds / 4)
        self.deadlines: dict[asyncio.Task[Any], float] = {}
        self.cancelled: set[asyncio.Task[Any]] = set()
        self.sweeper: asyncio.Task[None] | None = None
        self.sweeper_loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> asyncio.Task[Any] | None:
        """Start the clock for the running request (its task); None when there is no limit."""
        if self.seconds <= 0:
            return None
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        self.deadlines[task] = time.monotonic() + self.seconds
        sweeper = self.sweeper
        if sweeper is None or self.sweeper_loop is not loop or sweeper.done():
            self.sweeper, self.sweeper_loop = loop.create_task(self.sweep()), loop
        return task

    def stop(self, task: asyncio.Task[Any]) -> None:
        """The response has started: the limit no longer applies (a streamed body runs on)."""
        self.deadlines.pop(task, None)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` was cancelled for its deadline (and then un-cancel it, to answer 503)."""
        if task not in self.cancelled:
            return False
        task.uncancel()
        return True

    def forget(self, task: asyncio.Task[Any]) -> None:
        self.deadlines.pop(task, None)
        self.cancelled.discard(task)

    async def sweep(self) -> None:
        """Cancel overdue requests; end after `IDLE_TICKS` ticks with none in flight (a sweeper per
        request would cost a task each when they come one at a time)."""
        idle = 0
        try:
            while idle < self.IDLE_TICKS:
                await asyncio.sleep(self.tick)
                if not self.deadlines:
                    idle += 1
                    continue
                idle = 0
                now = time.monotonic()
                overdue = [task for task, deadline in self.deadlines.items() if deadline <= now]
                for task in overdue:
                    del self.deadlines[task]
                    self.cancelled.add(task)
                    task.cancel()
        finally:
            if self.sweeper is asyncio.current_task():
                self.sweeper = None


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` past the cap; FastAPI lets HTTPExceptions out of body parsing unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit))


def _too_large(limit: int) -> str:
    return f"The request body is larger than the {limit}-byte limit (CLAIMS_MAX_BODY_BYTES)."


class Counted:
    """A body without ``Content-Length`` (chunked), counted as it streams: 413 once past ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = 0
        over = started = dropping = False
        detail = _too_large(self.max_bytes)

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
