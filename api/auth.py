"""API keys on requests: ``X-API-Key: cb_<prefix>_<secret>``, scopes read < write < admin.

Routes declare what they need with ``caller: WriteCaller`` (or ``require("write")``). Reads are
public unless ``CLAIMS_REQUIRE_KEY_FOR_READS`` is set. No key where one is needed → 401 with
``WWW-Authenticate``; a malformed, unknown or revoked key → 401 (wherever it is sent: a bad key is a
mistake worth reporting, not a reason to fall back to anonymous); a key without the scope → 403.

Verified keys are remembered per worker for ``CLAIMS_API_KEY_CACHE_S`` seconds, so a busy key costs
one indexed ``UPDATE … RETURNING`` (which also records ``last_used_at``) per worker per period, and
a revocation reaches every worker within that period.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from cachetools import TTLCache
from fastapi import Depends, Request

from api.errors import Problem
from db import keys
from db.database import Database

HEADER = "X-API-Key"
CHALLENGE = {"WWW-Authenticate": f'ApiKey header="{HEADER}"'}
IMPLIED = {"admin": ("admin", "write", "read"), "write": ("write", "read"), "read": ("read",)}
STATE_KEY = "claims.caller"  # where the middleware leaves the caller (or the 401) in scope["state"]
CACHE_MAX = 10_000


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API key (id, scopes) or an anonymous client (key_id None)."""

    key_id: int | None
    scopes: frozenset[str]
    client: str
    key_prefix: str | None = None

    def allows(self, scope: str) -> bool:
        """``Caller(1, frozenset({"read", "write"}), "").allows("write") is True``."""
        return scope in self.scopes


def implied_scopes(scopes: frozenset[str] | list[str]) -> frozenset[str]:
    """``implied_scopes(["admin"]) == {"admin", "write", "read"}``."""
    return frozenset(s for scope in scopes for s in IMPLIED.get(scope, ()))


class Authenticator:
    """Turns a token into a `Caller`, remembering verified (and rejected) tokens for a while."""

    def __init__(self, state: Any, *, cache_s: float, require_key_for_reads: bool) -> None:
        self.state = state  # the app's state: its ``db`` is opened in the lifespan, after this exists
        self.cache_s = cache_s
        self.anonymous_scopes = frozenset() if require_key_for_reads else frozenset({"read"})
        # Keyed by the token's hash, so no secret lingers in the worker's memory; bounded against
        # floods of random tokens.
        self.verified: TTLCache[bytes, keys.VerifiedKey | None] = TTLCache(
            CACHE_MAX, max(cache_s, 0.0), timer=time.monotonic
        )
        self.anonymous = functools.lru_cache(maxsize=CACHE_MAX)(self._anonymous)

    async def caller(self, token: str | None, client: str) -> Caller:
        """The caller ``token`` identifies; anonymous without one; `Problem` 401 for a bad one."""
        if not token:
            return self.anonymous(client)
        key = await self._verified(token)
        if key is None:
            raise Problem(401, "The API key is invalid or has been revoked.", headers=CHALLENGE)
        return Caller(key.id, implied_scopes(key.scopes), client, key.prefix)

    def _anonymous(self, client: str) -> Caller:
        """The caller without a key (remembered per client address: a frozen dataclass is slow to make)."""
        return Caller(None, self.anonymous_scopes, client)

    async def _verified(self, token: str) -> keys.VerifiedKey | None:
        digest = hashlib.sha256(token.encode()).digest()
        try:
            return self.verified[digest]
        except KeyError:
            pass
        db: Database = self.state.db
        key = await keys.use_key(db, token)
        if self.cache_s > 0:
            self.verified[digest] = key
        return key


def authenticator(app_state: Any) -> Authenticator:
    """The app's `Authenticator`, made on first use from ``app_state.settings``."""
    found: Authenticator | None = getattr(app_state, "authenticator", None)
    if found is None:
        settings = app_state.settings
        found = Authenticator(
            app_state,
            cache_s=settings.api_key_cache_s,
            require_key_for_reads=settings.require_key_for_reads,
        )
        app_state.authenticator = found
    return found


def authorize(caller: Caller, scope: str) -> Caller:
    """``caller`` if it holds ``scope``; else `Problem` 401 (anonymous) or 403 (a key without it)."""
    if caller.allows(scope):
        return caller
    if caller.key_id is None:
        raise Problem(
            401,
            f"This request needs an API key with the '{scope}' scope in the {HEADER} header.",
            headers=CHALLENGE,
        )
    raise Problem(403, f"This API key lacks the '{scope}' scope.")


def header_token(headers: Mapping[str, str]) -> str | None:
    """The ``X-API-Key`` value, matching the name in any case (websocket payloads are plain dicts)."""
    token = headers.get(HEADER) or headers.get(HEADER.lower())
    if token is None:
        token = next((v for k, v in headers.items() if k.lower() == "x-api-key"), None)
    return token.strip() if isinstance(token, str) else None


async def caller_from_headers(app_state: Any, headers: Mapping[str, str], client: str, scope: str = "read") -> Caller:
    """The caller of a GraphQL request or websocket ``connection_init`` payload, holding ``scope``.

    Raises `Problem` 401/403 like the REST dependencies; check other scopes later with `authorize`.
    """
    caller = await authenticator(app_state).caller(header_token(headers), client)
    return authorize(caller, scope)


def caller_in_scope(scope: Mapping[str, Any], needed: str) -> Caller | None:
    """The caller the middleware left in the ASGI ``scope`` when it holds ``needed``; else None
    (no caller there, a refused key, or a missing scope: `require` answers those)."""
    found = scope.get("state", {}).get(STATE_KEY)
    return found if isinstance(found, Caller) and found.allows(needed) else None


def refusal(scope: Mapping[str, Any], needed: str) -> Problem | None:
    """The 401/403 the caller the middleware left in the ASGI ``scope`` earns for ``needed``; None
    when it holds it (or no caller is there yet). The front door asks before a write's body is read:
    whatever the body, an unauthenticated write is a 401, never a 422 about the body."""
    found = scope.get("state", {}).get(STATE_KEY)
    if isinstance(found, Problem):
        return found
    if isinstance(found, Caller) and not found.allows(needed):
        try:
            authorize(found, needed)
        except Problem as refused:
            return refused
    return None


def require(scope: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that answers 401 without a valid key and 403 without ``scope``."""

    async def dependency(request: Request) -> Caller:
        found = request.scope.get("state", {}).get(STATE_KEY)
        if isinstance(found, Problem):
            raise found
        if isinstance(found, Caller):
            return authorize(found, scope)
        client = request.client.host if request.client else ""
        return await caller_from_headers(request.app.state, request.headers, client, scope)

    return dependency


require_read = require("read")
ReadCaller = Annotated[Caller, Depends(require_read)]
WriteCaller = Annotated[Caller, Depends(require("write"))]
AdminCaller = Annotated[Caller, Depends(require("admin"))]
