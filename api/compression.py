"""gzip, negotiated by ``Accept-Encoding``, for bodies worth it: a step of the front door's ``send``.

A response is compressed when the client accepts gzip, the request is not a HEAD, the response is
not already encoded, its type is text-like (JSON, NDJSON, HTML, JavaScript, CSS, text) and its
body is at least `MIN_BYTES` long — or of unknown length, a stream such as ``GET /v1/export``,
whose every chunk is flushed as it comes, so a line still reaches the client at once.

ETags stay correct per encoding: the gzip representation's strong ETag is the identity one with
``-gzip`` added inside the quotes (``"1-abc"`` → ``"1-abc-gzip"``), and a tag sent back with the
suffix (``If-None-Match``, ``If-Match``) is read without it, so a cached gzip copy still earns a
``304`` (whose ETag gets the suffix again) and a write's precondition still matches. Every
response that could be compressed carries ``Vary: Accept-Encoding``.

Brotli is left out: it needs a compiled package, and at the levels that compress as fast as gzip's
it saves only a few percent more on JSON.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from starlette.types import Message, Send

Headers = list[tuple[bytes, bytes]]

MIN_BYTES = 1400  # about one TCP segment: below it, compressing saves no round trip
LEVEL = 6  # zlib's default: most of level 9's saving at a fraction of its time
SUFFIX = b"-gzip"
TEXT_TYPES = (b"application/json", b"application/ld+json", b"application/problem+json", b"application/x-ndjson")
TEXT_PREFIXES = (b"text/", b"application/javascript", b"application/graphql-response+json", b"image/svg+xml")
VALIDATORS = (b"if-none-match", b"if-match")
_REJECTED = re.compile(rb"(?:^|,)\s*gzip\s*;\s*q\s*=\s*0(?:\.0*)?\s*(?:,|$)")


def accepts_gzip(accept_encoding: bytes | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip``, ``*``; not ``gzip;q=0``)."""
    if not accept_encoding:
        return False
    value = accept_encoding.lower()
    if b"gzip" in value:
        return _REJECTED.search(value) is None
    return b"*" in value and b"*;q=0" not in value.replace(b" ", b"")


def unsuffixed(scope_headers: list[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], bool]:
    """The request's headers with ``-gzip`` taken off the ETags of its preconditions, and whether
    ``If-None-Match`` named a gzip representation (its ``304`` then names one too)."""
    named_gzip = False
    out = []
    for name, value in scope_headers:
        if name in VALIDATORS and SUFFIX + b'"' in value:
            named_gzip = named_gzip or name == b"if-none-match"
            value = value.replace(SUFFIX + b'"', b'"')
        out.append((name, value))
    return out, named_gzip


def compressible(content_type: bytes) -> bool:
    kind = content_type.split(b";", 1)[0].strip().lower()
    return kind in TEXT_TYPES or kind.startswith(TEXT_PREFIXES)


def suffixed(etag: bytes) -> bytes:
    """``"x"`` → ``"x-gzip"`` (a weak ``W/"x"`` likewise)."""
    return etag[:-1] + SUFFIX + b'"' if etag.endswith(b'"') else etag


class Gzip:
    """One response's compression: decided when it starts, applied to its body on the way out.

    A body sent in one message is compressed whole and gets its ``Content-Length`` (the start is
    held until then); a stream goes out chunk by chunk, each flushed.
    """

    __slots__ = ("compressor", "held", "named_gzip")

    def __init__(self, named_gzip: bool) -> None:
        self.compressor: Any = None  # a zlib compressobj, once the response is to be compressed
        self.held: Message | None = None
        self.named_gzip = named_gzip

    async def send(self, message: Message, send: Send) -> None:
        """``send`` the message, compressed (or its start rewritten) when the response is."""
        if message["type"] == "http.response.start":
            message["headers"] = self.start(message["status"], message.get("headers", []))
            if self.compressor is None:
                await send(message)
            else:
                self.held = message
            return
        if self.compressor is None or message["type"] != "http.response.body":
            await send(message)
            return
        more = message.get("more_body", False)
        data = self.compressor.compress(message.get("body", b""))
        data += self.compressor.flush(zlib.Z_SYNC_FLUSH if more else zlib.Z_FINISH)
        if self.held is not None:
            held, self.held = self.held, None
            if not more:
                held["headers"].append((b"content-length", b"%d" % len(data)))
            await send(held)
        await send({"type": "http.response.body", "body": data, "more_body": more})

    def start(self, status: int, headers: Headers) -> Headers:
        """The response's headers, rewritten for gzip when its body is to be compressed."""
        if status == 304:
            return [(k, suffixed(v) if k == b"etag" and self.named_gzip else v) for k, v in headers]
        length = kind = None
        for name, value in headers:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                kind = value
            elif name == b"content-encoding":
                return headers
        if kind is None or not compressible(kind) or (length is not None and int(length) < MIN_BYTES):
            return headers
        self.compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)  # 31: with the gzip wrapper
        out = [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        for name, value in headers:
            if name == b"etag":
                out.append((name, suffixed(value)))
            elif name == b"vary":
                out[1] = (b"vary", value + b", Accept-Encoding")
            elif name != b"content-length":
                out.append((name, value))
        return list(out)
