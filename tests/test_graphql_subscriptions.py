"""`claimAdded` over graphql-transport-ws against a real server, fed by PostgreSQL LISTEN/NOTIFY.

The server runs under uvicorn in a background thread with its own pool (the `db` fixture's pool
belongs to the test's event loop); claims are written through REST `POST /v1/sources`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.app import create_app
from api.graphql.listener import ClaimListener, install, listener_of
from api.settings import Settings
from db.database import Database
from tests.browser import serve_in_thread
from tests.rest_helpers import MERZ, STARMER, document, quote

PROTOCOL = "graphql-transport-ws"
FEED = "subscription($filter: ClaimFilter) { claimAdded(filter: $filter) { content speakers { entity { name } } } }"
TIMEOUT_S = 10.0


@pytest.fixture
def server(server_dsn: str, db: Database) -> Iterator[tuple[str, FastAPI]]:
    """A real server on a free port (its own pool and listener), on the freshly emptied test database."""
    app = create_app(Settings(database_url=server_dsn, load_demo=False, rate_limit_per_minute=0))
    install(app)  # a no-op: api/graphql/__init__.py registers the listener itself
    with serve_in_thread(app) as base:
        yield base, app


def _listener(app: FastAPI) -> ClaimListener:
    found = listener_of(app)
    assert found is not None, "the claim listener did not start"
    return found


async def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def ws(server: tuple[str, FastAPI]) -> AsyncIterator[ClientConnection]:
    """An acknowledged graphql-transport-ws connection."""
    base, _ = server
    async with connect(base.replace("http", "ws", 1) + "/graphql", subprotocols=[PROTOCOL]) as conn:  # type: ignore[list-item]
        assert conn.subprotocol == PROTOCOL
        await conn.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await asyncio.wait_for(conn.recv(), TIMEOUT_S))
        assert ack["type"] == "connection_ack"
        yield conn


async def _subscribe(conn: ClientConnection, app: FastAPI, op_id: str, variables: dict[str, Any]) -> None:
    listener = _listener(app)
    before = listener.subscribers
    await conn.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": FEED, "variables": variables}}))
    await _until(lambda: listener.connected.is_set() and listener.subscribers > before, "the subscription is live")


async def _next(conn: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(conn.recv(), TIMEOUT_S))
    assert message["type"] == "next", message
    return message


async def _post(base: str, doc: dict[str, Any], key: str) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S, headers={"X-API-Key": key}) as http:
        response = await http.post("/v1/sources", json=doc)
    assert response.status_code == 201, response.text
    return int(response.json()["claims"][0]["id"])


async def test_a_subscriber_receives_a_claim_written_through_rest_if_it_matches_its_filter(
    server: tuple[str, FastAPI], ws: ClientConnection, db: Database, keys: dict[str, str]
) -> None:
    base, app = server
    await _post(base, document("https://example.org/setup", quote("Setting up.", MERZ)), keys["write"])
    merz = await db.fetchval("SELECT id FROM entity WHERE name = 'Friedrich Merz'")
    await _subscribe(ws, app, "merz", {"filter": {"speakers": [str(merz)]}})
    await _subscribe(ws, app, "all", {})

    await _post(base, document("https://example.org/a", quote("Starmer speaks.", STARMER)), keys["write"])
    await _post(base, document("https://example.org/b", quote("Merz speaks.", MERZ)), keys["write"])

    received = [await _next(ws) for _ in range(3)]
    by_op: dict[str, list[str]] = {}
    for message in received:
        by_op.setdefault(message["id"], []).append(message["payload"]["data"]["claimAdded"]["content"])
    assert by_op == {"all": ["Starmer speaks.", "Merz speaks."], "merz": ["Merz speaks."]}
    merz_message = next(m for m in received if m["id"] == "merz")
    assert merz_message["payload"]["data"]["claimAdded"]["speakers"] == [{"entity": {"name": "Friedrich Merz"}}]

    await ws.send(json.dumps({"id": "all", "type": "complete"}))
    await _until(lambda: _listener(app).subscribers == 1, "the completed subscription is gone")


async def test_claims_added_while_the_listener_was_disconnected_still_arrive(
    server: tuple[str, FastAPI], ws: ClientConnection, db: Database, keys: dict[str, str]
) -> None:
    base, app = server
    listener = _listener(app)
    await _subscribe(ws, app, "all", {})
    reconnects = listener.reconnects
    # What a database restart does to the listener's session, without stopping the shared server.
    killed = await db.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = 'claimsbase-listener' AND datname = current_database()"
    )
    assert killed >= 1
    await _until(lambda: listener.reconnects > reconnects, "the listener noticed the lost connection")
    await _post(base, document("https://example.org/during", quote("Said during the outage.", MERZ)), keys["write"])
    first = await _next(ws)
    assert first["payload"]["data"]["claimAdded"]["content"] == "Said during the outage."
    await _until(listener.connected.is_set, "the listener reconnected")
    await _post(base, document("https://example.org/after", quote("Said after it.", MERZ)), keys["write"])
    second = await _next(ws)
    assert second["payload"]["data"]["claimAdded"]["content"] == "Said after it."


async def test_a_bad_filter_is_an_error_message_not_a_dropped_connection(
    server: tuple[str, FastAPI], ws: ClientConnection
) -> None:
    payload = {"query": FEED, "variables": {"filter": {"speakers": ["not-an-id"]}}}
    await ws.send(json.dumps({"id": "bad", "type": "subscribe", "payload": payload}))
    message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
    assert message["type"] in ("error", "next")
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert "not a valid id" in errors[0]["message"]


def test_a_slow_subscriber_loses_claims_instead_of_holding_everyone_up() -> None:
    listener = ClaimListener(Database("postgresql://unused"), queue_size=2)
    with listener.subscribe() as slow, listener.subscribe() as other:
        for claim_id in (1, 2, 3):
            listener.publish(claim_id)
        listener.publish(2)  # delivered once only, though NOTIFY and the catch-up may both report it
        assert [slow.get_nowait(), slow.get_nowait()] == [1, 2]
        assert slow.empty() and other.qsize() == 2
        assert listener.dropped == 2
    assert listener.subscribers == 0


async def test_a_restarted_listener_delivers_the_claims_added_while_it_was_away(db: Database) -> None:
    from tests.rest_helpers import write

    listener = ClaimListener(db)
    with listener.subscribe() as queue:
        await listener.start()
        await _until(listener.connected.is_set, "the listener is connected")
        await listener.stop()  # as good as a dropped connection: nothing is LISTENing now
        written = await write(db, document("https://example.org/away", quote("Said while away.", MERZ)))
        assert queue.empty()
        await listener.start()
        try:
            claim_id = await asyncio.wait_for(queue.get(), TIMEOUT_S)
        finally:
            await listener.stop()
    assert claim_id == written.claims[0].id


@pytest.mark.parametrize("require_key_for_reads", [False, True])
async def test_connection_init_checks_the_api_key_like_an_http_read(
    server_dsn: str, db: Database, keys: dict[str, str], require_key_for_reads: bool
) -> None:
    settings = Settings(
        database_url=server_dsn, load_demo=False, rate_limit_per_minute=0, require_key_for_reads=require_key_for_reads
    )
    with serve_in_thread(create_app(settings)) as base:

        async def init(payload: dict[str, Any]) -> dict[str, Any]:
            url = base.replace("http", "ws", 1) + "/graphql"
            async with connect(url, subprotocols=[PROTOCOL]) as conn:  # type: ignore[list-item]
                await conn.send(json.dumps({"type": "connection_init", "payload": payload}))
                try:
                    return dict(json.loads(await asyncio.wait_for(conn.recv(), TIMEOUT_S)))
                except ConnectionClosed as closed:
                    assert closed.rcvd is not None
                    return {"closed": closed.rcvd.code}

        assert await init({"X-API-Key": keys["read"]}) == {"type": "connection_ack"}
        assert await init({"X-API-Key": "cb_not_a_key"}) == {"closed": 4403}
        anonymous = await init({})
        assert anonymous == ({"closed": 4403} if require_key_for_reads else {"type": "connection_ack"})
