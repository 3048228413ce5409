"""What several test modules share: the tables to empty, app and client builders, document builders.

Test modules import from here (or tests/rest_helpers.py, tests/corpus.py), never from one another or
from conftest.py, so each can be read, run and changed on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastapi import FastAPI

from api.app import create_app
from api.auth import AdminCaller, Caller, ReadCaller, WriteCaller
from api.graphql.listener import listener_of
from api.settings import Settings
from db.database import Database

# The data, without the API keys (tests that empty the data between examples keep their keys).
DATA_TABLES = """
TRUNCATE claim_relation, claim_topic, mention, appearance, claim_speaker, claim_deletion, claim,
         source_author, source, topic, entity_role, entity_external_id, entity_alias, entity
         RESTART IDENTITY
"""
TABLES = DATA_TABLES + "; TRUNCATE api_key, rate_limit RESTART IDENTITY CASCADE"
PERSON = "person"


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def settled(app: FastAPI) -> None:
    """Wait until the app's background start-up is done: the subscriptions listener reads the store
    once it has connected, and that statement must not land in a test's statement counts."""
    listener = listener_of(app)
    if listener is not None:
        await asyncio.wait_for(listener.connected.wait(), timeout=30)


# -- an app with test-only routes ------------------------------------------------------------------


def add_guarded_routes(app: FastAPI) -> None:
    """``GET /t/read``, ``POST /t/write``, ``DELETE /t/admin``, each echoing its caller."""

    def echo(caller: Caller) -> dict[str, Any]:
        return {"key_id": caller.key_id, "scopes": sorted(caller.scopes), "prefix": caller.key_prefix}

    async def read(caller: ReadCaller) -> dict[str, Any]:
        return echo(caller)

    async def write(caller: WriteCaller) -> dict[str, Any]:
        return echo(caller)

    async def admin(caller: AdminCaller) -> dict[str, Any]:
        return echo(caller)

    app.add_api_route("/t/read", read, methods=["GET"])
    app.add_api_route("/t/write", write, methods=["POST"])
    app.add_api_route("/t/admin", admin, methods=["DELETE"])


@asynccontextmanager
async def serve(
    db: Database, settings: Settings, routes: Callable[[FastAPI], None] = add_guarded_routes
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for ``create_app(settings)`` plus test-only routes."""
    app = create_app(settings, database=db)
    routes(app)
    async with app.router.lifespan_context(app):
        await settled(app)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of ``response``, which must have ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


# -- talking to /graphql ---------------------------------------------------------------------------


async def gql(http: httpx.AsyncClient, query: str, **variables: Any) -> Any:
    """POST a document; the whole response body (data and errors)."""
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


async def data(http: httpx.AsyncClient, query: str, **variables: Any) -> Any:
    """POST a document that must succeed; its data."""
    body = await gql(http, query, **variables)
    assert "errors" not in body, body
    return body["data"]


def messages(body: dict[str, Any]) -> list[str]:
    """The messages of a response's top-level errors."""
    return [e["message"] for e in body.get("errors", [])]


# -- documents for `claims load` -------------------------------------------------------------------


def speaker(name: str, kind: str | None = PERSON, role: str = "speaker", **extra: Any) -> dict[str, Any]:
    """A speaker of a claim dict: an entity by name (a person unless ``kind`` says otherwise)."""
    return {"entity": {"name": name, **({"kind": kind} if kind else {}), **extra}, "role": role}


def claim(content: str, *speakers: dict[str, Any], quote: str | None = None, **extra: Any) -> dict[str, Any]:
    """A claim dict said on 2025-10-01 (before every source of the tests is published), appearing as
    ``quote`` (its content by default; "" for none)."""
    return {
        "content": content,
        "said_at": "2025-10-01",
        "speakers": list(speakers),
        **({"appearance": {"quote": quote or content}} if quote != "" else {}),
        **extra,
    }


def document(
    url: str | None, *claims: dict[str, Any], publisher: str = "Reuters", topics: Any = (), **source: Any
) -> dict[str, Any]:
    """A source document dict: a news article at ``url`` (else titled) by ``publisher``."""
    src: dict[str, Any] = {"kind": "news_article", "publisher": {"name": publisher, "kind": "organization"}}
    src.update({"url": url} if url else {"title": source.pop("title", "Untitled")})
    src.update(source)
    return {"source": src, "claims": list(claims), "topics": list(topics)}
