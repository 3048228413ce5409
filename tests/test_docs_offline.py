"""The docs pages render in a real browser with every external host unreachable.

Self-contained: a tiny FastAPI app with `mount_docs` and two routes, no database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from api.docs import STATIC_DIR, graphiql_html, mount_docs
from tests.browser import Page, render, serve_in_thread

ABSOLUTE_URL = re.compile(r"""(?:https?|wss?):(?://|\\/\\/)""", re.IGNORECASE)


class Thing(BaseModel):
    id: int
    name: str


def make_app() -> FastAPI:
    app = FastAPI(title="Test", docs_url=None, redoc_url=None)
    mount_docs(app, title="Test")

    @app.get("/v1/things", operation_id="listThings", summary="List the things")
    async def list_things() -> list[Thing]:
        return [Thing(id=1, name="one")]

    @app.get("/v1/things/{thing_id}", operation_id="getThing", summary="Get one thing")
    async def get_thing(thing_id: int) -> Thing:
        return Thing(id=thing_id, name="one")

    @app.get("/graphiql", include_in_schema=False)
    async def graphiql() -> HTMLResponse:
        return HTMLResponse(graphiql_html(endpoint="/graphql", subscription_endpoint="/graphql"))

    return app


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_in_thread(make_app()) as url:
        yield url


def assert_offline(page: Page) -> None:
    assert page.requests, "the net log recorded no requests at all"
    assert not page.external_requests, f"{page.url} tried to reach {page.external_requests}"
    problems = [c for c in page.console if "Content Security Policy" in c or "Refused to" in c]
    assert not problems, problems


def test_pages_reference_only_local_urls(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        for path in ("/docs", "/redoc", "/graphiql"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/html")
            assert not ABSOLUTE_URL.search(response.text), f"{path} has an absolute URL"
            for asset in re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text):
                assert asset.startswith("/"), asset
                assert client.get(asset).status_code == 200, asset
        assert "/docs" not in client.get("/openapi.json").json()["paths"]
    assert not ABSOLUTE_URL.search(graphiql_html())


def test_vendored_assets_are_present() -> None:
    expected = [
        "favicon.png",
        "swagger/swagger-ui-bundle.js",
        "swagger/swagger-ui.css",
        "redoc/redoc.standalone.js",
        "graphiql/graphiql.min.js",
        "graphiql/graphiql.min.css",
        "graphiql/react.production.min.js",
        "graphiql/react-dom.production.min.js",
    ]
    for name in expected:
        assert (STATIC_DIR / name).stat().st_size > 0, name


def test_swagger_ui_renders_offline(base_url: str) -> None:
    page = render(f"{base_url}/docs")
    assert 'class="swagger-ui' in page.dom
    assert "opblock" in page.dom
    assert "/v1/things/{thing_id}" in page.dom
    assert "listThings" in page.dom
    assert_offline(page)
    assert f"{base_url}/openapi.json" in page.requests


def test_redoc_renders_offline(base_url: str) -> None:
    page = render(f"{base_url}/redoc")
    assert "List the things" in page.dom
    assert "Get one thing" in page.dom
    assert "/v1/things/{thing_id}" in page.dom
    assert_offline(page)
    assert f"{base_url}/openapi.json" in page.requests


def test_graphiql_renders_offline(base_url: str) -> None:
    page = render(f"{base_url}/graphiql")
    assert "graphiql-container" in page.dom
    assert "Loading GraphiQL" not in page.dom
    assert "saidAt" in page.dom  # the default query is in the editor
    assert_offline(page)
