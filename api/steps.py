"""The cross-cutting steps of every HTTP request, each a small piece `api.front.FrontDoor` applies:

    request id       a sane incoming ``X-Request-Id`` is kept, else one is made up (`request_id`)
    CORS             only when CLAIMS_CORS_ORIGINS is set; preflights answered here (`Cors`)
    deadline         503 when no response has started within CLAIMS_REQUEST_TIMEOUT_S (`Deadlines`)
    body cap         413 past CLAIMS_MAX_BODY_BYTES, declared or streamed (`too_large`, `Counted`)
    security headers on every response, whoever answers it (`secure_headers`)

Identifying the caller is `api.auth`'s, the rate limit `api.ratelimit`'s and the access line
`api.logs`'s. Nothing here knows an endpoint.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import header
from api.errors import problem_response

Headers = list[tuple[bytes, bytes]]

_SANE_ID = re.compile(rb"\A[A-Za-z0-9._:@/+=-]{1,128}\Z")
# For JSON (and anything else that is not a docs page): nothing but this origin, and never framed.
API_CSP = b"default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
# The docs pages (Swagger UI, ReDoc, GraphiQL) boot with inline script and style.
# Same-origin only. Inline scripts/styles are how the three pages boot; data:/blob: cover the
# bundles' inline SVG icons and ReDoc's search worker; ws:/wss: let GraphiQL reach subscriptions.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)
DOCS_CSP = (CONTENT_SECURITY_POLICY + "; frame-ancestors 'self'").encode()
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


def request_id(incoming: bytes | None) -> str:
    """The request's id: the client's ``X-Request-Id`` when it is sane, else a new one."""
    return incoming.decode() if incoming and _SANE_ID.match(incoming) else new_request_id()


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


class Cors:
    """CORS for ``origins`` (``*`` allows any): preflights answered here, refusals as problem+json.

    No cookies are involved (keys travel in ``X-API-Key``), so credentials are never allowed, and an
    allowed origin may send any request header. Not Starlette's ``CORSMiddleware``: it refuses with
    plain text, and every refusal here is a problem document like every other error.
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
    timer: ``asyncio.timeout`` would push a handle onto the loop's timer heap for every request
    (and, cancelled, it would stay there until its time came), a cost every request pays under
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
        super().__init__(413, too_large(limit))


def too_large(limit: int) -> str:
    """The 413's detail."""
    return f"The request body is larger than the {limit}-byte limit (CLAIMS_MAX_BODY_BYTES)."


class Counted:
    """A body without ``Content-Length`` (chunked), counted as it streams: 413 once past ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = 0
        over = started = dropping = False
        detail = too_large(self.max_bytes)

        async def receive_counted() -> Message:
            nonlocal seen, over
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                over = True
                if message.get("more_body"):
                    await discard(receive, seen)  # so that the client reads the 413 (`drain`)
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


# Bodies left unread past this are not drained: the client may see its connection reset.
DRAIN_BYTES = 32 * 1024 * 1024


async def drain(receive: Receive, given: dict[bytes, bytes]) -> None:
    """Read and discard the rest of a request body (up to `DRAIN_BYTES`) before an early answer: a
    client that writes its whole body before reading (Python's urllib) would otherwise meet a
    closed socket, and the kernel's reset would hide the answer. Nothing is read when the client
    waits for ``100 Continue`` (it has sent no body) or declares a body past the bound."""
    length = given.get(b"content-length", b"")
    if given.get(b"expect", b"").lower() == b"100-continue":
        return
    if length.isdigit():
        if not 0 < int(length) <= DRAIN_BYTES:
            return
    elif b"chunked" not in given.get(b"transfer-encoding", b"").lower():
        return
    await discard(receive)


async def discard(receive: Receive, seen: int = 0) -> None:
    """Read the body's remaining messages without keeping them, until its end or `DRAIN_BYTES`."""
    while seen <= DRAIN_BYTES:
        message = await receive()
        seen += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def safe_read(scope: Scope, send: Send) -> tuple[Scope, Send]:
    """A ``HEAD`` answered as its ``GET`` without the body (same status and headers, Content-Length
    included), and a ``GET``'s ``If-Match`` checked against the answer's ETag: ``412`` when it does
    not match (RFC 9110 §13.1.1). Other requests pass unchanged."""
    method = scope["method"]
    if_match = header(scope, b"if-match") if method in ("GET", "HEAD") else None
    if method != "HEAD" and if_match is None:
        return scope, send
    head = method == "HEAD"
    refused = False

    async def send_read(message: Message) -> None:
        nonlocal refused
        if message["type"] == "http.response.start" and if_match is not None:
            status = message["status"]
            etag = dict(message.get("headers", ())).get(b"etag")
            if (200 <= status < 300 or status == 304) and not strong_match(if_match, etag):
                refused = True
                detail = "If-Match does not name the current ETag of this resource."
                await send_problem(_bodiless(send) if head else send, 412, detail, kind="precondition-failed")
                return
        if refused:
            return
        if head and message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return ({**scope, "method": "GET"} if head else scope), send_read


def _bodiless(send: Send) -> Send:
    async def send_head(message: Message) -> None:
        await send({**message, "body": b""} if message["type"] == "http.response.body" else message)

    return send_head


def strong_match(if_match: bytes, etag: bytes | None) -> bool:
    """Whether ``If-Match`` names ``etag`` by strong comparison (``*``: any current representation)."""
    tags = [tag.strip() for tag in if_match.split(b",")]
    if b"*" in tags:
        return True
    return etag is not None and not etag.startswith(b"W/") and etag in tags
