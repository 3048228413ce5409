"""GraphQL at /graphql: Strawberry schema, compiled execution, subscriptions."""

from __future__ import annotations

from fastapi import FastAPI

from api.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the GraphQL endpoint."""
