"""`claims serve`'s HTTP protocol (api.server): a response's writes leave together, nothing is held
longer than one turn of the event loop, and HTTP behaves as before: keep-alive, ``Connection:
close``, streamed bodies. Real sockets and a real uvicorn server throughout, except where
`HeadCycle`'s response heads are compared with uvicorn's own for generated responses: there both
write to a transport that records the bytes."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from api import server
from api.server import CorkedHttpToolsProtocol, CorkedTransport, HeadCycle


async def _corked() -> tuple[CorkedTransport, socket.socket]:
    """A `CorkedTransport` over one end of a socket pair, and the other end (non-blocking)."""
    mine, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, mine)
    theirs.setblocking(False)
    return CorkedTransport(transport, loop), theirs


async def _received(peer: socket.socket) -> bytes:
    """What reaches ``peer`` (b"" once the stream has ended), waiting up to 2 s for it."""
    await asyncio.sleep(0.05)
    peer.setblocking(True)
    peer.settimeout(2)
    return peer.recv(1000)


async def test_writes_of_one_turn_leave_together_at_its_end() -> None:
    corked, peer = await _corked()
    corked.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    corked.write(b"{}")
    with pytest.raises(BlockingIOError):  # nothing reached the socket during the turn
        peer.recv(1000)
    await asyncio.sleep(0)  # the turn ends
    assert peer.recv(1000) == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
    corked.write(b"next")  # a later turn is written at its own end
    await asyncio.sleep(0)
    assert peer.recv(1000) == b"next"
    corked.close()
    peer.close()


async def test_close_writes_what_is_held_first() -> None:
    corked, peer = await _corked()
    corked.write(b"last words")
    corked.close()
    assert await _received(peer) == b"last words"
    assert await _received(peer) == b""  # then the end of the stream
    peer.close()


async def test_abort_drops_what_is_held() -> None:
    corked, peer = await _corked()
    corked.write(b"never sent")
    corked.abort()
    assert await _received(peer) == b""
    assert corked.is_closing()  # everything else is the wrapped transport's
    peer.close()


release = asyncio.Event()
cycles: list[str] = []  # the class of the cycle behind each request's ``send``


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Three shapes: a plain body, a body streamed in two parts around an event, and a 304."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    cycles.append(type(send.__self__).__name__)
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        await release.wait()
        await send({"type": "http.response.body", "body": b"second", "more_body": False})
        return
    status = 304 if scope["path"] == "/same" else 200
    body = b"" if status == 304 else b'{"path": "%s"}' % scope["path"].encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def port() -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=free, http=CorkedHttpToolsProtocol, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn.Server offers a flag, no event)
        await asyncio.sleep(0.01)
    yield free
    server.should_exit = True
    await task


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status, *lines = head[:-4].split(b"\r\n")
    headers = {k.lower(): v for k, v in (line.split(b": ", 1) for line in lines)}
    body = await asyncio.wait_for(reader.readexactly(int(headers.get(b"content-length", b"0"))), 5)
    return status, headers, body


async def test_keep_alive_answers_every_request_on_one_connection(port: int) -> None:
    cycles.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for path in ("/a", "/same", "/b"):
        writer.write(b"GET %s HTTP/1.1\r\nhost: x\r\n\r\n" % path.encode())
        status, _, body = await _read_response(reader)
        if path == "/same":
            assert (status, body) == (b"HTTP/1.1 304 Not Modified", b"")
        else:
            assert (status, body) == (b"HTTP/1.1 200 OK", b'{"path": "%s"}' % path.encode())
    writer.close()
    assert cycles == ["HeadCycle"] * 3


async def test_connection_close_gets_the_whole_response_then_the_end(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /bye HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    status, headers, body = await _read_response(reader)
    assert (status, headers[b"connection"], body) == (b"HTTP/1.1 200 OK", b"close", b'{"path": "/bye"}')
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_a_streamed_body_leaves_part_by_part(port: int) -> None:
    release.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert b"transfer-encoding: chunked" in head
    # The first part arrives while the app still waits for the event: nothing is held back.
    assert await asyncio.wait_for(reader.readuntil(b"first;\r\n"), 5) == b"6\r\nfirst;\r\n"
    release.set()
    assert await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5) == b"6\r\nsecond\r\n0\r\n\r\n"
    writer.close()


class Recorder:
    """A transport that keeps what is written (for comparing response heads byte for byte)."""

    def __init__(self) -> None:
        self.written = b""

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return False


def _cycle(cycle_class: type[RequestResponseCycle], method: str, keep_alive: bool) -> tuple[Any, Recorder]:
    """A cycle of ``cycle_class`` for a ``method`` request, as uvicorn's protocol makes one, and its transport."""
    transport = Recorder()
    cycle = cycle_class(
        scope={"type": "http", "method": method, "path": "/"},  # type: ignore[typeddict-item]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[(b"server", b"uvicorn"), (b"date", b"Wed, 02 Dec 2026 18:00:00 GMT")],
        message_event=asyncio.Event(),
        expect_100_continue=True,
        keep_alive=keep_alive,
        on_response=lambda: None,
    )
    return cycle, transport


def _answer(
    cycle_class: type[RequestResponseCycle], messages: list[dict[str, Any]], method: str, keep_alive: bool
) -> Any:
    """What a cycle of ``cycle_class`` writes for ``messages``, its state after, and its error."""
    cycle, transport = _cycle(cycle_class, method, keep_alive)
    error = None

    async def run() -> None:
        for message in messages:
            await cycle.send(message)

    try:
        asyncio.run(run())
    except Exception as exc:
        error = (type(exc), str(exc))
    state = (
        cycle.response_started,
        cycle.response_complete,
        cycle.chunked_encoding,
        cycle.expected_content_length,
        cycle.keep_alive,
        cycle.waiting_for_100_continue,
    )
    return transport.written, state, error


API_HEAD = [
    (b"etag", b'W/"0123456789abcdef"'),
    (b"cache-control", b"public, max-age=60"),
    (b"vary", b"Accept"),
    (b"content-length", b"2"),
    (b"content-type", b"application/json"),
    (b"x-request-id", b"0123456789abcdef0123456789abcdef"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
]
NAMES = [b"content-type", b"Content-Length", b"CONTENT-LENGTH", b"connection", b"Transfer-Encoding", b"etag"]
NAMES += [b"x-request-id", b"bad name", b"x:y", b"", b"X-\x7f", b"vary"]
VALUES = [b"application/json", b"2", b"12", b"-1", b"abc", b"close", b"Keep-Alive, Close", b"chunked", b"gzip"]
VALUES += [b"tab\tinside", b"bad\r\nvalue", b"", b'W/"1"', b"\x00"]
header = st.tuples(st.sampled_from(NAMES) | st.binary(max_size=4), st.sampled_from(VALUES) | st.binary(max_size=4))
odd = st.sampled_from([(b"a", b"b", b"c"), ("content-type", b"x"), (b"content-type", "x"), (b"x",)])
headers = st.lists(header, max_size=6) | st.lists(header | odd, max_size=4)


@settings(max_examples=400, deadline=None)
@given(
    given_headers=headers,
    container=st.sampled_from([list, tuple]),
    status=st.sampled_from([200, 201, 204, 304, 404, 500, 99, 600]),
    method=st.sampled_from(["GET", "HEAD", "POST"]),
    keep_alive=st.booleans(),
    body=st.sampled_from([b"", b"{}", b"longer body"]),
)
def test_a_response_is_written_with_the_bytes_state_and_errors_uvicorn_gives(
    given_headers: list[Any], container: type, status: int, method: str, keep_alive: bool, body: bytes
) -> None:
    messages = [
        {"type": "http.response.start", "status": status, "headers": container(given_headers)},
        {"type": "http.response.body", "body": body},
    ]
    stock = _answer(RequestResponseCycle, messages, method, keep_alive)
    assert _answer(HeadCycle, messages, method, keep_alive) == stock


def test_an_api_response_head_is_composed_by_head_cycle_not_uvicorns_loop() -> None:
    message = {"type": "http.response.start", "status": 200, "headers": API_HEAD}
    cycle, _ = _cycle(HeadCycle, "GET", True)
    head = cycle.head(message)
    assert head is not None  # the usual response takes the quick way …
    assert head == _answer(RequestResponseCycle, [message], "GET", True)[0]  # … and writes what uvicorn would


def test_names_seen_before_are_not_checked_again_but_their_values_are() -> None:
    # Each list twice: the first answer checks the names and keeps them (`_NAMES`), the second
    # takes them from there; both write what uvicorn writes. Then the same names with a value
    # uvicorn refuses, and with a Content-Length it cannot read: its error, not a quick head.
    good = [(b"Content-Type", b"application/json"), (b"content-length", b"2"), (b"X-Id", b"1")]
    bad_value = [(b"Content-Type", b"application/json"), (b"content-length", b"2"), (b"X-Id", b"bad\r\nvalue")]
    bad_length = [(b"Content-Type", b"application/json"), (b"content-length", b"two"), (b"X-Id", b"1")]
    for sent in (good, good, bad_value, bad_length, API_HEAD, API_HEAD):
        messages = [
            {"type": "http.response.start", "status": 200, "headers": sent},
            {"type": "http.response.body", "body": b"{}"},
        ]
        assert _answer(HeadCycle, messages, "GET", True) == _answer(RequestResponseCycle, messages, "GET", True)
    cycle, _ = _cycle(HeadCycle, "GET", True)
    raw_names = tuple(name for name, _ in [*cycle.default_headers, *good])
    assert server._NAMES[raw_names] == ((b"server", b"date", b"content-type", b"content-length", b"x-id"), 3)
    refused = [(b"Connection", b"close"), (b"bad name", b"x")]
    for sent in ([refused[0]], [refused[1]]):
        message = {"type": "http.response.start", "status": 200, "headers": sent}
        assert _cycle(HeadCycle, "GET", True)[0].head(message) is None  # uvicorn's own code answers these
        assert tuple(name for name, _ in [*cycle.default_headers, *sent]) not in server._NAMES
