"""REST API v1: one router per resource."""

from __future__ import annotations

from fastapi import FastAPI

from api.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Include every /v1 router."""
