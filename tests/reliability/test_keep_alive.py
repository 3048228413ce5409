"""`claims serve` keeps an idle connection open longer than HTTP clients keep theirs.

A client reuses an idle pooled connection until its own idle limit (httpx: 5 s). If the server
closed idle connections at the same age (uvicorn's default is 5 s), a request sent just as the
server gave up on the connection reached a closed socket and the client saw a connection reset:
the `ReadError('')` that once failed the sustained-load test. With the server's limit longer, the
client always closes first.
"""

from __future__ import annotations

import asyncio

from tests.reliability.serving import claims_server

IDLE_S = 6.0  # past httpx's 5 s expiry and uvicorn's 5 s default


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> bytes:
    writer.write(b"GET %s HTTP/1.1\r\nhost: claims\r\n\r\n" % path.encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    await asyncio.wait_for(reader.readexactly(length), 10)
    return head.split(b"\r\n", 1)[0]


async def test_a_connection_idle_longer_than_clients_keep_theirs_still_answers(server_dsn: str) -> None:
    with claims_server(server_dsn) as server:
        host, port = server.base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            assert await _get(reader, writer, "/healthz") == b"HTTP/1.1 200 OK"
            await asyncio.sleep(IDLE_S)
            assert await _get(reader, writer, "/healthz") == b"HTTP/1.1 200 OK"
        finally:
            writer.close()
