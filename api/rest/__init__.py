"""REST API v1: one router per resource."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from api.rest import claims, entities, export, extract, imports, sources, topics
from api.rest.common import fix_openapi, known_query_parameters
from api.settings import Settings

ROUTERS = [
    claims.router,
    entities.router,
    sources.router,
    topics.router,
    export.router,
    imports.router,
    extract.router,
]


def install(app: FastAPI, settings: Settings) -> None:
    """Include every /v1 router, and document errors as `application/problem+json`."""
    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(known_query_parameters)])
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = fix_openapi(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
