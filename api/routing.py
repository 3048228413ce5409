"""How a request reaches its operation: FastAPI's route table, and the plain shapes the front door
answers itself.

Every operation is one function from parsed input to an `Answer`. Its FastAPI route is the thin
adapter that parses and validates any request, and documents it in OpenAPI. An operation that is
read far more often than anything else may also declare a *plain shape* with `plain`: a function
that takes the ASGI scope and, when the request has that simple form (no query string, a
well-formed id…), calls the same operation itself; for anything else it returns None. The front
door (`api.front`) tries the plain shape after its own steps; FastAPI's dependency injection,
routing and exception layers cost several times what such a read costs otherwise. A plain shape is
a read: when it raises, the request goes FastAPI's way (the read runs again there, and the app's
exception handlers answer), so errors are mapped in one place.

`route_table` lists every (method, path template, handler) the app serves, once; `AllowedMethods`
and `PlainShapes` are built from the same routes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from fastapi import FastAPI
from fastapi.routing import APIRouter
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute, compile_path
from starlette.types import Scope, Send

Headers = list[tuple[bytes, bytes]]
Shortcut = Callable[[Scope, bytes], Awaitable["Answer | None"]]  # (scope, body) → answer, or None
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


def plain(shortcut: Shortcut, methods: tuple[str, ...] = ("GET",)) -> Callable[[Endpoint], Endpoint]:
    """Declare ``shortcut`` as the plain shape of the decorated route's endpoint for ``methods``
    (`PlainShapes`)."""

    def declare(endpoint: Endpoint) -> Endpoint:
        endpoint.plain = (shortcut, methods)  # type: ignore[attr-defined]
        return endpoint

    return declare


class Row(NamedTuple):
    """One row of the route table."""

    method: str
    path: str
    handler: str


def all_routes(app: FastAPI, routers: Sequence[APIRouter] = ()) -> list[BaseRoute]:
    """``app``'s own routes, then those of the ``routers`` it includes (FastAPI keeps an included
    router's routes in that router)."""
    return [*app.router.routes, *(route for router in routers for route in router.routes)]


def route_table(app: FastAPI, routers: Sequence[APIRouter] = ()) -> list[Row]:
    """Every (method, path template, handler) ``app`` serves."""
    rows: list[Row] = []
    for route in all_routes(app, routers):
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
        """``b"GET, HEAD, OPTIONS, POST"``: the methods served at ``path``, sorted; the front door
        answers ``HEAD`` wherever ``GET`` is served and ``OPTIONS`` wherever anything is; none
        (``b""``) for a path nothing serves."""
        if self.paths is None:
            self.paths = [(compile_path(row.path)[0], row.method) for row in self.rows()]
        methods = {method for pattern, method in self.paths if pattern.match(path)} - {"WEBSOCKET"}  # not HTTP's
        if methods:
            methods.add("OPTIONS")
        if "GET" in methods:
            methods.add("HEAD")
        return ", ".join(sorted(methods)).encode()


class PlainShapes:
    """The plain shapes of ``routes`` (a callable: the table is read on first use, once every route
    is in place) by method, each with its route's own compiled path."""

    def __init__(self, routes: Callable[[], list[BaseRoute]]) -> None:
        self.routes = routes
        self.shapes: dict[str, list[tuple[re.Pattern[str], Shortcut]]] | None = None
        self.owners: dict[Shortcut, Route] = {}  # each shape's route (for ``scope["route"]``)

    def find(self, method: str, path: str) -> tuple[Shortcut, dict[str, str]] | None:
        """The plain shape that may answer ``method path``, and the path's parameters (as text)."""
        shapes = self.shapes if self.shapes is not None else self.build()
        for pattern, shortcut in shapes.get(method, ()):
            found = pattern.match(path)
            if found is not None:
                return shortcut, found.groupdict()
        return None

    def build(self) -> dict[str, list[tuple[re.Pattern[str], Shortcut]]]:
        shapes: dict[str, list[tuple[re.Pattern[str], Shortcut]]] = {}
        for route in self.routes():
            declared = getattr(getattr(route, "endpoint", None), "plain", None)
            if isinstance(route, Route) and declared is not None:
                shortcut, methods = declared
                self.owners[shortcut] = route
                for method in methods:
                    shapes.setdefault(method, []).append((route.path_regex, shortcut))
        self.shapes = shapes
        return shapes
