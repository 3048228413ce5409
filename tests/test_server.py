"""`claims serve`'s HTTP protocol (api.server): a response's writes leave together, nothing is held
longer than one turn of the event loop, and HTTP behaves as before: keep-alive, ``Connection:
close``, streamed bodies. Real sockets and a real uvicorn server throughout."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from api.server import CorkedHttpToolsProtocol, CorkedTransport


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


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Three shapes: a plain body, a body streamed in two parts around an event, and a 304."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
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
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for path in ("/a", "/same", "/b"):
        writer.write(b"GET %s HTTP/1.1\r\nhost: x\r\n\r\n" % path.encode())
        status, _, body = await _read_response(reader)
        if path == "/same":
            assert (status, body) == (b"HTTP/1.1 304 Not Modified", b"")
        else:
            assert (status, body) == (b"HTTP/1.1 200 OK", b'{"path": "%s"}' % path.encode())
    writer.close()


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
