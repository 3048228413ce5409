"""API keys on requests: `X-API-Key`, scopes read < write < admin. (Interface; implementation in progress.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API key (id, scopes) or an anonymous client (key_id None)."""

    key_id: int | None
    scopes: frozenset[str]
    client: str


def require(scope: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that answers 401 without a valid key and 403 without ``scope``."""

    async def dependency(request: Request) -> Caller:
        return Caller(None, frozenset({"read", "write", "admin"}), request.client.host if request.client else "")

    return dependency


ReadCaller = Annotated[Caller, Depends(require("read"))]
WriteCaller = Annotated[Caller, Depends(require("write"))]
AdminCaller = Annotated[Caller, Depends(require("admin"))]
