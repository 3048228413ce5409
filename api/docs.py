"""API docs that work offline: Swagger UI, ReDoc and GraphiQL from assets vendored in ``api/static``.

``scripts/vendor-assets.sh`` fetches the pinned front-end bundles (see ``api/static/VERSIONS.txt``).
Every URL in the pages below is root-relative, and each page carries a Content-Security-Policy that
only lets the browser load from this origin, so nothing is fetched from a CDN or font service even if
a bundle has a dormant code path that would.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.steps import CONTENT_SECURITY_POLICY

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"
FAVICON_URL = f"{STATIC_URL}/favicon.png"

DEFAULT_GRAPHQL_QUERY = """\
# Recent claims: what was said, when, and by whom.
{
  claims(first: 10) {
    edges {
      node {
        content
        saidAt
        speakers {
          role
          entity {
            name
          }
        }
      }
    }
  }
}
"""


def _with_csp(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY + "; frame-ancestors 'self'"
    return response


def mount_docs(app: FastAPI, *, title: str) -> None:
    """Serve ``/static`` and add ``GET /docs`` (Swagger UI) and ``GET /redoc`` (ReDoc) using only local assets.

    Create the app with ``docs_url=None, redoc_url=None`` so these replace FastAPI's CDN-backed pages.
    """
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _with_csp(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{title} — Swagger UI",
                swagger_js_url=f"{STATIC_URL}/swagger/swagger-ui-bundle.js",
                swagger_css_url=f"{STATIC_URL}/swagger/swagger-ui.css",
                swagger_favicon_url=FAVICON_URL,
                # The default validator badge would ask validator.swagger.io about the spec.
                swagger_ui_parameters={"validatorUrl": None, "displayOperationId": True},
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _with_csp(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{title} — ReDoc",
                redoc_js_url=f"{STATIC_URL}/redoc/redoc.standalone.js",
                redoc_favicon_url=FAVICON_URL,
                with_google_fonts=False,
            )
        )


def _script_json(value: object) -> str:
    """JSON that is safe to embed inside an inline ``<script>``."""
    return json.dumps(value, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def graphiql_html(
    *,
    endpoint: str = "/graphql",
    subscription_endpoint: str = "/graphql",
    title: str = "Claimsbase GraphiQL",
    default_headers: str | None = None,
) -> str:
    """A GraphiQL page for ``endpoint`` that loads nothing from outside this server.

    Queries and mutations are POSTed to ``endpoint`` with the JSON headers typed into GraphiQL's
    headers editor (e.g. ``{"X-API-Key": "..."}``). Subscriptions run over graphql-transport-ws at
    ``subscription_endpoint`` (ws:// or wss:// chosen from the page's own scheme); the same headers
    go in the ``connection_init`` payload, since browsers cannot set headers on a WebSocket.
    """
    config = {
        "endpoint": endpoint,
        "subscriptionEndpoint": subscription_endpoint,
        "defaultQuery": DEFAULT_GRAPHQL_QUERY,
        "defaultHeaders": default_headers,
    }
    escaped_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">
<title>{escaped_title}</title>
<link rel="icon" type="image/png" href="{FAVICON_URL}">
<link rel="stylesheet" href="{STATIC_URL}/graphiql/graphiql.min.css">
<style>
  html, body {{ height: 100%; margin: 0; overflow: hidden; }}
  #graphiql {{ height: 100vh; }}
</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{STATIC_URL}/graphiql/react.production.min.js"></script>
<script src="{STATIC_URL}/graphiql/react-dom.production.min.js"></script>
<script src="{STATIC_URL}/graphiql/graphiql.min.js"></script>
<script>
(function () {{
  "use strict";
  var config = {_script_json(config)};
  var url = new URL(config.endpoint, window.location.href);
  var subscriptionUrl = new URL(config.subscriptionEndpoint, window.location.href);
  subscriptionUrl.protocol = subscriptionUrl.protocol === "https:" ? "wss:" : "ws:";
  // createFetcher merges the headers editor's JSON into each POST, and into the
  // graphql-ws connection_init payload for subscriptions (graphql-ws is bundled in GraphiQL).
  var fetcher = GraphiQL.createFetcher({{ url: url.href, subscriptionUrl: subscriptionUrl.href }});
  var props = {{ fetcher: fetcher, defaultQuery: config.defaultQuery, isHeadersEditorEnabled: true }};
  if (config.defaultHeaders) {{
    props.defaultHeaders = config.defaultHeaders;
    props.defaultEditorToolsVisibility = "headers";
  }}
  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQL, props));
}})();
</script>
</body>
</html>
"""
