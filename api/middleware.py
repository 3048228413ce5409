"""Cross-cutting HTTP behaviour: request ids, security headers, CORS, body caps, timeouts, logs."""

from __future__ import annotations

from fastapi import FastAPI

from api.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware stack to ``app``."""
