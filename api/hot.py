"""Hot routes: the busiest requests skip FastAPI's route table and dependency injection.

For ``GET /v1/claims/{id}`` FastAPI walks its middleware, matches the route table and solves five
dependencies; measured in process (``python -m bench.inprocess``) that was most of the Python a
request cost, several times the cost of the endpoint itself. `HotRoutes` sits just inside the
middleware stack (request id, limits, keys and logs still apply) and, for the plain shape of a hot
request, answers with the route's own pieces:

- ``GET /v1/claims/{id}`` with a well-formed id, no query string, no mention of JSON-LD in
  ``Accept`` and a caller allowed to read → the statement `db.claims.get_claim`, the 404/410 of
  `api.rest.claims.readable` and the ETag, ``304`` and headers of `api.rest.common.cached_raw`
  (`HotRoutes.read_claim`), sent as ASGI messages by the middleware itself (`api.middleware.Gate`
  calls it: no Starlette request or response objects, which were a tenth of the request's CPU,
  and no layer of ``send`` wrappers);
- ``GET`` and ``POST /graphql`` → the GraphQL endpoint (it parses, authorises and answers itself;
  a ``POST`` from a caller allowed to read, again from and to ASGI messages).

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
from api.rest.common import ITEM_CACHE, cached_raw
from db import claims as store
from schema.common import MAX_ID

Endpoint = Callable[[Request], Awaitable[Response | None]]  # None: let FastAPI answer
RawEndpoint = Callable[[Scope, Receive, Send], Awaitable[bool]]  # False: not answered

_CLAIM_PATH = re.compile(r"/v1/claims/([1-9][0-9]{0,18})")


class HotRoutes:
    """ASGI: answer hot requests directly, hand everything else to ``app`` (FastAPI's stack)."""

    def __init__(self, app: ASGIApp, app_state: Any) -> None:
        self.app = app
        self.app_state = app_state
        self.state: dict[str, Any] = app_state._state  # read per request without `State.__getattr__`
        self.graphql: Endpoint | None = getattr(app_state, "graphql_endpoint", None)
        self.graphql_post: RawEndpoint | None = getattr(app_state, "graphql_post", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # (``GET /v1/claims/{id}`` is answered by `api.middleware.Gate`, with `read_claim`.)
        if (
            scope["type"] == "http"
            and scope["path"] == "/graphql"
            and self.serves_graphql(scope)
            and await self.answer_graphql(scope, receive, send)
        ):
            return
        await self.app(scope, receive, send)

    def claim_read(self, scope: Scope, accept: bytes | None) -> int | None:
        """The claim id when this request is a hot claim read by a caller allowed to read; None
        sends it to FastAPI, so 401 and 403 come with everything else FastAPI checks.

        Its plain shape: ``GET``, a well-formed id, no query string and no JSON-LD in ``accept`` (the
        request's ``Accept`` header)."""
        if scope["method"] != "GET" or scope["query_string"]:
            return None
        found = _CLAIM_PATH.fullmatch(scope["path"])
        if found is None or (claim_id := int(found[1])) > MAX_ID or (accept and b"ld+json" in accept):
            return None
        return claim_id if auth.caller_in_scope(scope, "read") is not None else None

    async def read_claim(
        self, claim_id: int, if_none_match: bytes | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """`api.rest.claims.get_claim`'s plain JSON as (status, headers, body), its steps written out
        (each coroutine level showed in bench.instructions); raises what the route raises (its 404
        or 410 `Problem`, `DatabaseUnavailable`) for `problem` to answer."""
        row = await self.state["db"].fetchrow(store.GET_CLAIM, claim_id)
        if row is None or row["deleted"]:
            rest_claims.readable(store.claim_doc(row), claim_id)  # raises its 404 or 410
        body: bytes = row["body"].encode()
        return cached_raw(if_none_match, body, cache=ITEM_CACHE, version=row["version"])

    def serves_graphql(self, scope: Scope) -> bool:
        """Whether this ``/graphql`` request is the GraphQL endpoint's (``GET`` and ``POST``)."""
        return self.graphql is not None and scope["method"] in ("GET", "POST")

    async def answer_graphql(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """The GraphQL endpoint's answer (a reader's ``POST`` from and to ASGI messages); False
        (→ FastAPI) when it has none."""
        assert self.graphql is not None
        try:
            post = self.graphql_post if scope["method"] == "POST" else None
            if post is not None and await post(scope, receive, send):
                return True
            response = await self.graphql(Request(scope, receive))
        except Exception as exc:
            await problem(scope, receive, send, exc)
            return True
        if response is None:
            return False
        await response(scope, receive, send)
        return True


async def problem(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """The answer the app's own exception handlers give to ``exc``, as FastAPI would call them."""
    await (await errors.response_for(Request(scope, receive), exc))(scope, receive, send)
