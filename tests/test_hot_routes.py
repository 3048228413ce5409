"""The hot routes (api.hot) answer exactly as the FastAPI routes they short-cut.

A request that mentions JSON-LD in ``Accept`` always goes through FastAPI; with ``ld+json;q=0``
it asks for the same plain JSON, so the two answers must be identical, byte for byte.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI

from api.auth import STATE_KEY, Caller
from api.errors import Problem
from api.hot import HotRoutes
from api.settings import Settings
from db.database import Database
from tests.rest_helpers import demo
from tests.test_auth import serve

VIA_FASTAPI = {"Accept": "application/json, application/ld+json;q=0"}
VARYING = {"x-request-id", "date"}


async def both_ways(http: httpx.AsyncClient, path: str, **headers: str) -> tuple[httpx.Response, httpx.Response]:
    hot = await http.get(path, headers={"Accept": "application/json", **headers})
    slow = await http.get(path, headers={**VIA_FASTAPI, **headers})
    return hot, slow


def same(hot: httpx.Response, slow: httpx.Response) -> None:
    assert hot.status_code == slow.status_code
    assert hot.content == slow.content
    assert {k: v for k, v in hot.headers.items() if k not in VARYING} == {
        k: v for k, v in slow.headers.items() if k not in VARYING
    }


def test_only_the_plain_shape_of_a_hot_request_is_short_cut(app: FastAPI) -> None:
    hot = HotRoutes(app.router, app.state)

    reader = Caller(None, frozenset({"read"}), "127.0.0.1")

    def route(
        method: str, path: str, query: bytes = b"", accept: bytes = b"application/json", caller: object = reader
    ) -> str | int | None:
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": query,
            "headers": [(b"accept", accept)],
            "state": {STATE_KEY: caller},
        }
        if path == "/graphql":
            return "graphql" if hot.serves_graphql(scope) else None
        return hot.claim_read(scope, accept)

    assert route("GET", "/v1/claims/12") == 12
    assert route("POST", "/graphql") == route("GET", "/graphql") == "graphql"
    assert route("HEAD", "/v1/claims/12") is None
    assert route("GET", "/v1/claims/12", query=b"x=1") is None
    assert route("GET", "/v1/claims/012") is None
    assert route("GET", "/v1/claims/0") is None
    assert route("GET", "/v1/claims/99999999999999999999") is None
    assert route("GET", "/v1/claims/12/") is None
    assert route("GET", "/v1/claims/12", accept=b"application/ld+json") is None
    assert route("PUT", "/graphql") is None
    # Callers that may not read (or a refused key, left as its Problem) go to FastAPI for their 401/403.
    assert route("GET", "/v1/claims/12", caller=Caller(None, frozenset(), "127.0.0.1")) is None
    assert route("GET", "/v1/claims/12", caller=Problem(401, "The API key is invalid.")) is None
    assert route("GET", "/v1/claims/12", caller=None) is None


async def test_a_claim_read_the_short_way_is_the_fastapi_answer(client: httpx.AsyncClient, db: Database) -> None:
    await demo(db)
    claim_id = (await client.get("/v1/claims?limit=1")).json()["data"][0]["id"]

    hot, slow = await both_ways(client, f"/v1/claims/{claim_id}")
    assert hot.status_code == 200 and hot.headers["etag"]
    same(hot, slow)

    same(*await both_ways(client, f"/v1/claims/{claim_id}", **{"If-None-Match": hot.headers["etag"]}))
    same(*await both_ways(client, "/v1/claims/987654321"))  # 404

    assert (await client.delete(f"/v1/claims/{claim_id}", headers={"If-Match": hot.headers["etag"]})).status_code == 204
    gone, slow_gone = await both_ways(client, f"/v1/claims/{claim_id}")
    assert gone.status_code == 410
    same(gone, slow_gone)


@pytest.mark.parametrize("key", [None, "cb_bogus_key"])
async def test_callers_who_may_not_read_get_the_fastapi_answer(
    db: Database, settings: Settings, key: str | None
) -> None:
    await demo(db)
    locked = replace(settings, require_key_for_reads=True)
    async with serve(db, locked) as http:
        headers = {"X-API-Key": key} if key else {}
        hot, slow = await both_ways(http, "/v1/claims/1", **headers)
    assert hot.status_code == 401
    same(hot, slow)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"query": "{ claims(first: 2) { edges { node { id content } } } }"}', "application/json"),
        (b'{"query": "query($id: ID!) { claim(id: $id) { id } }", "variables": {"id": "Q2xhaW06MQ=="}}', ""),
        (b'{"query": "{ nope }"}', "application/json; charset=utf-8"),
        (b'{"query": "{ claims(first: 2) {"}', "application/graphql-response+json"),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"query": "{ __typename }"}', "text/plain"),
        (b"", "application/json"),
    ],
)
async def test_a_graphql_post_the_short_way_is_the_endpoint_answer(
    app: FastAPI, anonymous: httpx.AsyncClient, db: Database, body: bytes, content_type: str
) -> None:
    """POST /graphql by a caller who may read goes from and to ASGI messages (api.graphql's `post`);
    the request-based endpoint, which answers everyone else, must give the same answer."""
    from starlette.requests import Request

    from api.auth import STATE_KEY, authenticator

    await demo(db)
    hot = await anonymous.post("/graphql", content=body, headers={"content-type": content_type})

    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    caller = authenticator(app.state).anonymous("127.0.0.1")
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "query_string": b"",
        "headers": [(b"content-type", content_type.encode())] if content_type else [],
        "app": app,
        "state": {STATE_KEY: caller},
    }
    slow = await app.state.graphql_endpoint(Request(scope, receive))
    assert sent or slow.status_code == 415  # a body of another type is refused unread
    assert (hot.status_code, hot.content) == (slow.status_code, slow.body)
    assert hot.headers["content-type"] == slow.headers["content-type"]
    assert hot.headers["content-length"] == slow.headers["content-length"]
