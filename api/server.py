"""The HTTP side of `claims serve`: uvicorn's httptools protocol, each response written in one go.

uvicorn writes the status line and headers the moment the app sends ``http.response.start``, and
the body when ``http.response.body`` follows: two writes, so on a connection without Nagle's
algorithm (uvloop sets ``TCP_NODELAY``) two system calls, two TCP segments and two wake-ups of the
client for every response, although the app sends both messages in the same turn of the event
loop. `CorkedTransport` holds what is written during one turn and hands it to the socket at the
end of that turn, in one ``writelines`` (one ``writev`` under uvloop). Nothing waits longer than
the turn it was written in: a streamed body still leaves chunk by chunk, as the app yields it.

Measured with ``wrk`` against ``GET /v1/claims/{id}``, side by side: 5–6 % more requests a second
for this small JSON read (the bare-ASGI floor given the same change: 2 %); the bytes are unchanged.

`HeadCycle` writes the status line and headers of a response with a few passes in C over all of
them, where uvicorn checks, lowercases and appends each header in a Python loop with two regular
expression searches: an API response carries 16 headers (security, rate limit, ETag, request id),
and that loop was about 1 µs a header. The sets of names it has checked are remembered (an app sends
the same few again and again), so names are checked and lowered once, values every time: 5.0 → 3.5
µs for the 17 headers of a claim read (timeit). The bytes, the checks and the errors are uvicorn's:
any response it would treat specially (``Connection``, ``Transfer-Encoding``, an odd status or
header container, a paused or closed transport) goes to uvicorn's own code.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

# The bytes uvicorn's header checks refuse, as `bytes.translate` deletion tables (a header has one
# of them when deleting them shortens it); derived from its expressions, so they stay the same.
_BAD_NAME = bytes(b for b in range(256) if HEADER_RE.search(bytes([b])))
_BAD_VALUE = bytes(b for b in range(256) if HEADER_VALUE_RE.search(bytes([b])))
_SPECIAL = (b"transfer-encoding", b"connection")  # headers whose handling stays uvicorn's


class CorkedTransport:
    """A transport that writes what it is given during one event-loop turn at the end of that turn.

    Everything else (``close`` after a flush, flow control, ``get_extra_info``, the switch to the
    websocket protocol) is the wrapped transport's own.
    """

    __slots__ = ("loop", "pending", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self.pending is None:
            self.pending = [data]
            self.loop.call_soon(self.flush)
        else:
            self.pending.append(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Hand the held writes to the socket (a transport already closing drops them, as its own
        ``write`` would)."""
        pending, self.pending = self.pending, None
        if pending and not self.transport.is_closing():
            self.transport.writelines(pending)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def abort(self) -> None:
        self.pending = None
        self.transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class HeadCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, its response head composed in C-level passes (`head`)."""

    async def send(self, message: Any) -> None:
        if (
            message["type"] == "http.response.start"
            and not self.response_started
            and not self.disconnected
            and not self.flow.write_paused
            and not self.access_log
            and (head := self.head(message)) is not None
        ):
            self.transport.write(head)
            return
        await super().send(message)

    def head(self, message: Any) -> bytes | None:
        """The status line and headers uvicorn would write for ``message``, with its state changes
        made; None (nothing changed) for anything uvicorn's own code should answer or refuse."""
        status = message["status"]
        given = message.get("headers", ())
        line = STATUS_LINE.get(status)
        if line is None or (type(given) is not list and type(given) is not tuple):
            return None
        try:
            raw_names, values = zip(*self.default_headers, *given, strict=True)
            known = _NAMES.get(raw_names)
            joined_values = b" ".join(values)
        except (TypeError, ValueError):  # not pairs of bytes: uvicorn's loop says what is wrong
            return None
        if known is None and (known := _checked_names(raw_names)) is None:
            return None
        names, length_at = known
        if len(joined_values.translate(None, _BAD_VALUE)) != len(joined_values):
            return None
        chunked: bool | None = None
        if length_at >= 0:  # the first Content-Length counts, as in uvicorn's loop
            try:
                expected = int(values[length_at].decode())
            except (AttributeError, ValueError):
                return None
            chunked = False
            self.expected_content_length = expected
        parts = [line, b"\r\n".join(map(b": ".join, zip(names, values, strict=True))), b"\r\n"]
        if not self.keep_alive:
            parts.append(b"connection: close\r\n")
        if chunked is None and self.scope["method"] != "HEAD" and status not in (204, 304):
            chunked = True
            parts.append(b"transfer-encoding: chunked\r\n")
        parts.append(b"\r\n")
        self.chunked_encoding = chunked
        self.response_started = True
        self.waiting_for_100_continue = False
        return b"".join(parts)


# Header names seen before, as they came (the response's after uvicorn's defaults) → their lower-case
# forms and where Content-Length is among them (-1: absent), for names that passed every check of
# `_checked_names`: an app sends the same few sets of names again and again, and checking and
# lowering them was a third of `head`. Bounded: past `_NAMES_MAX` sets, the others are checked
# every time.
_NAMES: dict[tuple[bytes, ...], tuple[tuple[bytes, ...], int]] = {}
_NAMES_MAX = 256


def _checked_names(raw_names: tuple[bytes, ...]) -> tuple[tuple[bytes, ...], int] | None:
    """``raw_names`` lowered, and the index of the first Content-Length (-1: none); None when one of
    them is not a valid name, or names a header uvicorn's own code must handle (`_SPECIAL`)."""
    try:
        names = tuple(map(bytes.lower, raw_names))
        joined = b"_".join(names)
    except (TypeError, ValueError):
        return None
    if len(joined.translate(None, _BAD_NAME)) != len(joined) or _SPECIAL[0] in names or _SPECIAL[1] in names:
        return None
    known = names, names.index(b"content-length") if b"content-length" in names else -1
    if len(_NAMES) < _NAMES_MAX:
        _NAMES[raw_names] = known
    return known


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CorkedTransport` (``uvicorn.run(http=…)``), its
    requests answered by `HeadCycle`s."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # uvicorn made the request's cycle and scheduled its task, which has not run yet; the cycle
        # becomes a `HeadCycle` (a subclass with no state of its own) before the app's first send.
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = HeadCycle
