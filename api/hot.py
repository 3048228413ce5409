"""Hot routes: the busiest requests skip FastAPI's route table and dependency injection.

For ``GET /v1/claims/{id}`` FastAPI walks its middleware, matches the route table and solves five
dependencies; measured in process (``python -m bench.inprocess``) that was most of the Python a
request cost, several times the cost of the endpoint itself. `HotRoutes` sits just inside the
middleware stack (request id, limits, keys and logs still apply) and, for the plain shape of a hot
request, calls the route's own endpoint function with its dependencies supplied directly:

- ``GET /v1/claims/{id}`` with a well-formed id, no query string, no mention of JSON-LD in
  ``Accept`` and a caller allowed to read → `api.rest.claims.get_claim`;
- ``GET`` and ``POST /graphql`` → the GraphQL endpoint (it parses, authorises and answers itself).

Every other request — a malformed id, query parameters, a missing key, content negotiation —
goes through FastAPI unchanged, so validation, errors and documentation stay in one place.
Exceptions are answered by the app's own exception handlers (`api.errors.response_for`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api import auth, errors
from api.rest import claims as rest_claims
from schema.common import MAX_ID

Endpoint = Callable[[Request], Awaitable[Response | None]]  # None: let FastAPI answer

_CLAIM_PATH = re.compile(r"/v1/claims/([1-9][0-9]{0,18})")


class HotRoutes:
    """ASGI: answer hot requests directly, hand everything else to ``app`` (FastAPI's stack)."""

    def __init__(self, app: ASGIApp, app_state: Any) -> None:
        self.app = app
        self.app_state = app_state
        self.graphql: Endpoint | None = getattr(app_state, "graphql_endpoint", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.route(scope)
            if endpoint is not None:
                request = Request(scope, receive)
                try:
                    response = await endpoint(request)
                except Exception as exc:  # the app's own handlers, as FastAPI would call them
                    response = await errors.response_for(request, exc)
                if response is not None:
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def route(self, scope: Scope) -> Endpoint | None:
        """The hot endpoint for this request, if it has the plain shape one covers."""
        path, method = scope["path"], scope["method"]
        if path == "/graphql":
            return self.graphql if method in ("GET", "POST") else None
        if method == "GET" and not scope["query_string"] and path.startswith("/v1/claims/"):
            found = _CLAIM_PATH.fullmatch(path)
            if found is not None and int(found[1]) <= MAX_ID and b"ld+json" not in _header(scope, b"accept"):
                return self.get_claim
        return None

    async def get_claim(self, request: Request) -> Response | None:
        """`api.rest.claims.get_claim`, or None (→ FastAPI) when the caller may not read."""
        try:
            caller = await auth.require_read(request)
        except errors.Problem:
            return None  # FastAPI gives the 401/403, with everything else it checks first
        state = self.app_state
        claim_id = int(request.scope["path"].rsplit("/", 1)[1])
        return await rest_claims.get_claim(request, claim_id, state.db, state.settings, caller)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return b""
