"""The route table: every operation once, with its one handler; the front door below the routes."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.app import create_app
from api.front import read_body, replay
from api.rest import ROUTERS
from api.routing import Row, route_table
from api.settings import Settings
from db.database import Database

API = Path(__file__).resolve().parents[1] / "api"
# The cross-cutting layer: what every request passes, whatever it asks for.
CROSS_CUTTING = ("front.py", "steps.py", "auth.py", "ratelimit.py", "logs.py", "errors.py", "routing.py", "asgi.py")
ENDPOINTS = ("api.rest", "api.graphql", "api.docs", "api.landing", "api.app", "api.cli")


def _app() -> FastAPI:
    return create_app(Settings(database_url="postgresql://unused", load_demo=False))


def _table() -> list[Row]:
    return route_table(_app(), ROUTERS)


def test_each_method_and_path_is_served_by_one_route() -> None:
    rows = _table()
    served = Counter((row.method, row.path) for row in rows)
    assert [key for key, n in served.items() if n > 1] == []


def test_each_rest_operation_has_exactly_one_handler() -> None:
    app = _app()
    routes = [*app.routes, *(route for router in ROUTERS for route in router.routes)]
    operations = [route for route in routes if isinstance(route, APIRoute) and route.include_in_schema]
    ids = Counter(route.operation_id or route.unique_id for route in operations)
    assert [name for name, n in ids.items() if n > 1] == []
    handlers = Counter(route.endpoint for route in operations for _ in route.methods)
    assert [h.__qualname__ for h, n in handlers.items() if n > 1] == []
    documented = {op["operationId"] for path in app.openapi()["paths"].values() for op in path.values()}
    assert documented == set(ids)


def test_graphql_get_and_post_share_one_handler() -> None:
    rows = [row for row in _table() if row.path == "/graphql"]
    http = {row.method: row.handler for row in rows if row.method != "WEBSOCKET"}
    assert {"GET", "POST"} <= set(http)
    assert len(set(http.values())) == 1


def test_the_table_lists_the_landing_page_health_and_v1() -> None:
    rows = {(row.method, row.path) for row in _table()}
    assert {("GET", "/"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/v1/claims/{claim_id}")} <= rows


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_cross_cutting_code_never_imports_an_endpoint() -> None:
    offending = {
        name: sorted(m for m in _imports(API / name) if m.startswith(ENDPOINTS))
        for name in CROSS_CUTTING
        if any(m.startswith(ENDPOINTS) for m in _imports(API / name))
    }
    assert offending == {}


async def test_the_plain_claim_read_answers_as_the_validated_route_does(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/claims",
        json={
            "source": {"title": "Routing", "url": "https://example.org/routing", "kind": "news_article"},
            "claim": {
                "content": "One door.",
                "kind": "paraphrase",
                "speakers": [{"entity": {"name": "Ada", "kind": "person"}}],
            },
        },
    )
    assert created.status_code == 201, created.text
    path = created.headers["location"]
    plain = await client.get(path)  # the plain shape: no query string
    validated = await client.get(path + "?")  # an empty query string takes FastAPI's way
    assert plain.status_code == validated.status_code == 200
    assert plain.content == validated.content
    assert plain.headers["etag"] == validated.headers["etag"]
    assert (await client.get(path, headers={"If-None-Match": plain.headers["etag"]})).status_code == 304


async def test_ids_that_are_not_ascii_digits_are_422_on_both_ways(client: httpx.AsyncClient) -> None:
    for text in ("٣", "¹", "+3", "3.0", "1_0", "0"):
        response = await client.get(f"/v1/claims/{text}")
        assert response.status_code == 422, (text, response.text)
        assert response.json()["errors"][0]["field"] == "path.claim_id"


async def test_the_landing_page_links_the_docs(db: Database, settings: Settings) -> None:
    app = create_app(settings, database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        page = await http.get("/", headers={"Accept": "text/html"})
        index = await http.get("/", headers={"Accept": "application/json"})
    assert page.status_code == index.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for href in ("/docs", "/redoc", "/graphql", "/v1/claims"):
        assert f'href="{href}"' in page.text
        assert href in {link["href"] for link in index.json()["links"].values()}


async def test_a_method_the_route_lacks_is_405_on_the_plain_way_too(client: httpx.AsyncClient) -> None:
    response = await client.request("TRACE", "/v1/claims/1")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


async def test_a_body_read_by_a_plain_shape_is_given_again_to_the_route() -> None:
    messages = [
        {"type": "http.request", "body": b'{"query": ', "more_body": True},
        {"type": "http.request", "body": b'"{ __typename }"}', "more_body": False},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    body = await read_body(receive)
    assert body == b'{"query": "{ __typename }"}'
    again = replay(body, receive)
    assert await again() == {"type": "http.request", "body": body, "more_body": False}
    assert await again() == {"type": "http.disconnect"}


async def test_graphql_posts_are_answered_by_the_plain_shape_and_by_the_route(anonymous: httpx.AsyncClient) -> None:
    plain = await anonymous.post("/graphql", json={"query": "{ __typename }"})
    not_json = await anonymous.post("/graphql", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (plain.status_code, plain.json()) == (200, {"data": {"__typename": "Query"}})
    assert (not_json.status_code, not_json.json()["detail"]) == (400, "The body is not valid JSON.")
