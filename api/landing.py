"""`GET /`: where to go from here — an HTML page for browsers, a JSON index for programs."""

from __future__ import annotations

import html

import orjson
from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, Response

LINKS = (
    ("docs", "/docs", "REST API reference (Swagger UI)"),
    ("redoc", "/redoc", "REST API reference (ReDoc)"),
    ("openapi", "/openapi.json", "OpenAPI 3.1 document"),
    ("graphql", "/graphql", "GraphQL endpoint; a browser gets GraphiQL"),
    ("v1", "/v1/claims", "REST API v1: claims, entities, sources, topics"),
    ("health", "/readyz", "readiness: database reachable, migrations applied"),
)


def index_json() -> bytes:
    """The JSON index: each link by name."""
    return orjson.dumps(
        {"name": "Claimsbase", "links": {name: {"href": href, "title": title} for name, href, title in LINKS}}
    )


def index_html() -> str:
    """The HTML page: the same links, no script, nothing from elsewhere."""
    items = "\n".join(
        f'<li><a href="{href}">{html.escape(href)}</a> — {html.escape(title)}</li>' for _, href, title in LINKS
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Claimsbase</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Claimsbase</h1>
<p>A database of claims: who said what, when, and who reported it.</p>
<ul>
{items}
</ul>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve ``GET /``."""

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if "text/html" in accept:
            return HTMLResponse(index_html(), headers={"Vary": "Accept"})
        return Response(index_json(), media_type="application/json", headers={"Vary": "Accept"})
