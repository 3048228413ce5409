"""How a request reaches its operation: FastAPI's route table, and the plain shapes that skip its
dependency injection.

Every operation is one function from parsed input to an `Answer`. Its FastAPI route is the thin
adapter that parses and validates any request (and documents it in OpenAPI). An operation that is
read far more often than anything else may also declare a *plain shape* with `plain`: a function
that takes the ASGI scope and, when the request is of that simple form (say, no query string and a
well-formed id), calls the same operation itself; for anything else it returns None and the route
runs as usual. Dependency injection and parameter validation cost several times what such a read
costs in PostgreSQL's JSON; nothing else differs. Exceptions raised on either way reach the app's
exception handlers (`api.errors`) through Starlette's own middleware.

`route_table` lists every (method, path template, handler) the app serves, once.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute, compile_path
from starlette.types import Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]
Shortcut = Callable[[Scope], Awaitable["Answer | None"]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


class Answer(NamedTuple):
    """An operation's answer: status, header lines (lower-case names) and body."""

    status: int
    headers: Headers
    body: bytes

    def response(self) -> Response:
        """The answer as a Starlette response (for the FastAPI route)."""
        response = Response(self.body, status_code=self.status)
        response.raw_headers = self.headers
        return response

    async def send(self, send: Send) -> None:
        """The answer as ASGI messages (for a plain shape)."""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def plain(shortcut: Shortcut) -> Callable[[Endpoint], Endpoint]:
    """Declare ``shortcut`` as the plain shape of the decorated route's endpoint (`OperationRoute`)."""

    def declare(endpoint: Endpoint) -> Endpoint:
        endpoint.plain = shortcut  # type: ignore[attr-defined]
        return endpoint

    return declare


class OperationRoute(APIRoute):
    """FastAPI's route, answering requests of its endpoint's plain shape (if it declares one)
    without dependency injection."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        shortcut: Shortcut | None = getattr(self.endpoint, "plain", None)
        if shortcut is not None and scope["method"] in (self.methods or ()):
            answer = await shortcut(scope)
            if answer is not None:
                await answer.send(send)
                return
        await super().handle(scope, receive, send)


class Row(NamedTuple):
    """One row of the route table."""

    method: str
    path: str
    handler: str


def route_table(app: FastAPI, routers: Sequence[APIRouter] = ()) -> list[Row]:
    """Every (method, path template, handler) ``app`` serves: its own routes, then those of the
    ``routers`` it includes (FastAPI keeps an included router's routes in that router)."""
    rows: list[Row] = []
    for route in [*app.router.routes, *(route for router in routers for route in router.routes)]:
        if isinstance(route, Route):  # FastAPI's APIRoute included
            name = f"{route.endpoint.__module__}.{route.endpoint.__qualname__}"
            rows += (Row(method, route.path, name) for method in sorted(route.methods or ()))
        elif isinstance(route, WebSocketRoute):
            rows.append(Row("WEBSOCKET", route.path, _name(route.endpoint)))
        elif isinstance(route, Mount):
            rows.append(Row("GET", route.path + "/{path}", _name(route.app)))
    return rows


def _name(handler: Any) -> str:
    kind = handler if isinstance(handler, type) else type(handler)
    return f"{kind.__module__}.{kind.__qualname__}"


class AllowedMethods:
    """The methods some route serves at a path, for the ``Allow`` header of a 405: Starlette's
    answer names only the first matching route's methods (``GET /v1/claims`` and ``POST
    /v1/claims`` are two routes). Built from ``rows`` (`route_table`) on first use, once every
    route is in place."""

    def __init__(self, rows: Callable[[], list[Row]]) -> None:
        self.rows = rows
        self.paths: list[tuple[re.Pattern[str], str]] | None = None

    def __call__(self, path: str) -> bytes:
        """``b"GET, POST"``: the methods served at ``path``, sorted."""
        if self.paths is None:
            self.paths = [(compile_path(row.path)[0], row.method) for row in self.rows()]
        served = {method for pattern, method in self.paths if pattern.match(path)} - {"WEBSOCKET"}  # not HTTP's
        return ", ".join(sorted(served)).encode()
