"""The ASGI app: `create_app()` builds FastAPI with REST under /v1, GraphQL at /graphql, health, docs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI
from starlette.responses import Response

from api import docs, errors, front, graphql, landing, metrics, rest, routing
from api.settings import Settings
from db.database import Database, DatabaseUnavailable
from db.demo_data import load_demo
from db.embedded import start_embedded
from db.health import readiness
from db.migrate import migrate

log = logging.getLogger("claims.api")

DESCRIPTION = """\
Claimsbase: a database of claims — **who said what, when, and who reported it**.

Reads are public unless the operator requires a key; writes need an API key with the `write`
scope in the `X-API-Key` header. Errors are RFC 9457 `application/problem+json`. Lists use keyset
pagination: follow `next_cursor` (also in the `Link` header). GraphQL lives at `/graphql` and is
described by its own schema, not by this document.
"""


# No open licence has been chosen for the project: the API and its data are the operator's.
LICENSE = {"name": "Proprietary: use under the terms of the operator of this server"}


async def open_database(settings: Settings) -> Database:
    """Resolve the server (embedded unless a URL is set), migrate, connect, load the demo data."""
    dsn = settings.database_url
    if dsn is None:
        dsn = (await asyncio.to_thread(start_embedded, settings.data_dir))[0]
    await migrate(dsn)
    db = Database(
        dsn,
        statement_timeout_ms=settings.statement_timeout_ms,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
    )
    await db.connect()
    if settings.load_demo:
        await load_demo(db)
    return db


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """The whole API. Tests pass an open ``database``; otherwise the lifespan opens one."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = database is None
        app.state.db = database if database is not None else await open_database(settings)
        await _on_startup(app)
        try:
            yield
        finally:
            await _on_shutdown(app)
            if own:
                await app.state.db.close()

    app = FastAPI(
        title="Claimsbase API",
        version="1.0.0",
        summary="Who said what, when, and who reported it.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        servers=[{"url": "/", "description": "this server"}],
        license_info=LICENSE,
        # No OpenTelemetry here: FastAPI would otherwise ask its providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    if database is not None:
        app.state.db = database
    errors.install(app)
    _install_optional(app, settings)
    _install_health(app)
    return app


def _install_health(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        try:
            state = await readiness(app.state.db)
        except DatabaseUnavailable:
            return errors.problem_response(503, "The database is unreachable.", kind="unavailable")
        if state["pending_migrations"]:
            return errors.problem_response(503, "Migrations are pending.", kind="unavailable")
        return Response(orjson.dumps({"status": "ready", **state}), media_type="application/json")


def _install_optional(app: FastAPI, settings: Settings) -> None:
    """The routes (GraphQL and REST first: they are matched in order, and they are the busiest),
    the landing page and docs, then the front door around all of them."""
    app.state.startup = []
    app.state.shutdown = []
    graphql.install(app, settings)
    rest.install(app, settings)
    landing.install(app)
    metrics.install(app, settings)
    docs.mount_docs(app, title="Claimsbase API")
    shapes = routing.PlainShapes(lambda: routing.all_routes(app, rest.ROUTERS))
    allowed = routing.AllowedMethods(lambda: routing.route_table(app, rest.ROUTERS))
    front.install(app, settings, shapes, allowed)


async def _on_startup(app: FastAPI) -> None:
    for hook in getattr(app.state, "startup", []):
        await hook(app)


async def _on_shutdown(app: FastAPI) -> None:
    for hook in reversed(getattr(app.state, "shutdown", [])):
        await hook(app)
