"""GraphQL at /graphql: POST and GET run operations, a browser GET gets GraphiQL (served offline),
and websockets speak graphql-transport-ws for subscriptions.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import WebSocketRoute
from starlette.types import Scope
from starlette.websockets import WebSocket

from api import metrics
from api.asgi import header
from api.auth import caller_from_headers, caller_in_scope, header_token, require_read
from api.contracts import graphql_sdl
from api.errors import Problem, problem_response
from api.graphql.executor import Executor
from api.graphql.http import GRAPHQL_RESPONSE, answer, negotiate, sdl_answer
from api.graphql.listener import install as install_listener
from api.routing import Answer, plain
from api.settings import Settings
from schema.graphql.context import Context
from schema.graphql.schema import build_schema

JSON = "application/json"
POST_TYPES = (b"application/json", b"application/graphql-response+json", b"")


def _unsupported(content_type: bytes) -> Response | None:
    """The 415 for a POST body that is not JSON, or None."""
    ctype = content_type.split(b";")[0].strip().lower()
    if ctype in POST_TYPES:
        return None
    detail = f"POST /graphql takes {JSON}, not {ctype.decode('latin-1')!r}."
    return problem_response(415, detail, kind="unsupported-media-type")


def _parsed(body: bytes) -> dict[str, Any] | Response:
    """A POST body as a JSON object, or the 400 saying why it is not one."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return problem_response(400, "The body is not valid JSON.", kind="bad-request")
    if not isinstance(parsed, dict):
        return problem_response(400, "The body must be a JSON object.", kind="bad-request")
    return parsed


def build(settings: Settings) -> tuple[Any, Executor]:
    """The Strawberry schema with this app's extensions, and its executor."""
    from strawberry.extensions import MaskErrors, ParserCache, ValidationCache

    def should_mask(error: Any) -> bool:
        from graphql import GraphQLError

        original = getattr(error, "original_error", None)
        return original is not None and not isinstance(original, GraphQLError)

    class LabelErrors(MaskErrors):
        """Masks internal errors and gives every error the code clients branch on (Apollo's names):
        ``INTERNAL_SERVER_ERROR`` for a masked one, ``BAD_USER_INPUT`` for an argument a resolver
        refused; codes already set (``FORBIDDEN``…) stay."""

        def anonymise_error(self, error: Any) -> Any:
            masked = super().anonymise_error(error)
            masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
            return masked

        def _process_errors(self, errors: list[Any]) -> list[Any]:
            from graphql import GraphQLError

            processed = super()._process_errors(errors)
            for error in processed:
                if isinstance(error.original_error, GraphQLError) and not (error.extensions or {}).get("code"):
                    error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}
            return processed

    extensions: list[Any] = [
        lambda: ParserCache(maxsize=1000),
        lambda: ValidationCache(maxsize=1000),
        lambda: LabelErrors(should_mask_error=should_mask, error_message="Internal error."),
    ]
    if not settings.graphql_introspection:
        from strawberry.extensions import DisableIntrospection

        extensions.append(DisableIntrospection)
    schema = build_schema(extensions=extensions, suggestions=settings.graphql_introspection)
    return schema, Executor(schema, settings)


def context_for(request: Request, caller: Any = None) -> Context:
    """The per-request context: database, caller, settings and the request."""
    return Context(db=request.app.state.db, caller=caller, settings=request.app.state.settings, request=request)


async def operation_of(request: Request) -> dict[str, Any] | Response:
    """The operation a request carries — a GET's query parameters or a POST's JSON body — or the
    answer refusing it (GraphiQL for a browser's bare GET)."""
    if request.method == "GET":
        params = request.query_params
        if not {"query", "extensions", "documentId"} & params.keys():
            if "text/html" in request.headers.get("accept", ""):
                from api.docs import graphiql_html

                return HTMLResponse(graphiql_html())
            return problem_response(400, "GET /graphql needs a `query` parameter.", kind="bad-request")
        operation: dict[str, Any] = {"query": params.get("query"), "operationName": params.get("operationName")}
        for name in ("variables", "extensions"):  # JSON in the query string, as GraphQL over HTTP says
            try:
                operation[name] = orjson.loads(params.get(name) or "{}")
            except orjson.JSONDecodeError:
                return problem_response(400, f"`{name}` is not valid JSON.", kind="bad-request")
        if "documentId" in params:
            operation["documentId"] = params["documentId"]
        return operation
    refused = _unsupported(request.headers.get("content-type", "").encode("latin-1"))
    return refused if refused is not None else _parsed(await request.body())


def install(app: FastAPI, settings: Settings) -> None:
    """Mount /graphql on ``app``."""
    schema, executor = build(settings)
    install_listener(app)  # LISTEN claim_added for claimAdded subscriptions, one connection per worker
    app.state.graphql_schema = schema
    app.state.graphql = executor

    async def respond(
        db: Any,
        operation: dict[str, Any],
        context: Any,
        *,
        get: bool,
        accept: str | None,
        etag: str | None,
    ) -> Answer:
        """The operation's answer for a caller allowed to read: the one way every /graphql request runs."""
        media_type = negotiate(accept)
        if media_type is None:
            detail = f"/graphql answers {GRAPHQL_RESPONSE} or {JSON}; the Accept header names neither."
            raise Problem(406, detail, kind="not-acceptable")
        graphql_response = media_type == GRAPHQL_RESPONSE
        payload, status = await executor.run(db, operation, context, not get, graphql_response=graphql_response)
        metrics.graphql_operation(operation.get("operationName"), metrics.graphql_outcome(status, payload))
        return answer(payload, status, media_type, get=get, if_none_match=etag)

    async def plain_post(scope: Scope, body: bytes) -> Answer | None:
        """``POST /graphql``'s plain shape: a JSON body from a caller allowed to read."""
        caller = caller_in_scope(scope, "read")
        if caller is None or _unsupported(header(scope, b"content-type") or b"") is not None:
            return None
        operation = _parsed(body)
        if isinstance(operation, Response):
            return None
        accept = header(scope, b"accept")
        context = functools.partial(context_for, Request(scope), caller)  # made only if resolvers run
        db = scope["app"].state.db
        return await respond(
            db, operation, context, get=False, accept=accept.decode("latin-1") if accept else None, etag=None
        )

    @plain(plain_post, methods=("POST",))
    async def run(request: Request) -> Response:
        """``GET`` and ``POST /graphql``: one operation, read or (POST only) written."""
        operation = await operation_of(request)
        if isinstance(operation, Response):
            return operation
        try:
            caller = await require_read(request)
            context = functools.partial(context_for, request, caller)  # made only if resolvers run
            found = await respond(
                request.app.state.db,
                operation,
                context,
                get=request.method == "GET",
                accept=request.headers.get("accept"),
                etag=request.headers.get("if-none-match"),
            )
        except Problem as exc:  # a bad key, no key where reads need one, an Accept it cannot meet
            return problem_response(exc.status, exc.detail, kind=exc.kind, headers=exc.headers)
        return found.response()

    @functools.cache  # printed on first use: most apps (and every test's) never serve it
    def sdl() -> bytes:
        return graphql_sdl(schema).encode()

    async def schema_sdl(request: Request) -> Response:
        """``GET /graphql/schema.graphql``: the SDL, served whether or not introspection is on."""
        return sdl_answer(sdl(), request.headers.get("if-none-match")).response()

    app.add_route("/graphql", run, methods=["GET", "POST"], include_in_schema=False)
    app.add_route("/graphql/schema.graphql", schema_sdl, methods=["GET"], include_in_schema=False)
    try:
        from strawberry.asgi import GraphQL
        from strawberry.exceptions import ConnectionRejectionError
        from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

        class Subscriptions(GraphQL[Context, None]):
            async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
                return Context(db=app.state.db, settings=settings, request=request)

            async def on_ws_connect(self, context: Context) -> Any:
                """Check the key in ``connection_init`` (or the handshake's headers) like an HTTP read.

                A bad key, or none where reads need one, closes the socket with 4403 "Forbidden".
                """
                params = context.connection_params if isinstance(context.connection_params, dict) else {}
                headers = {k: v for k, v in params.items() if isinstance(v, str)}
                if header_token(headers) is None and context.request is not None:
                    headers = dict(context.request.headers)
                client = context.request.client.host if getattr(context.request, "client", None) else ""
                try:
                    context.caller = await caller_from_headers(app.state, headers, client, "read")
                except Problem as exc:
                    raise ConnectionRejectionError({"status": exc.status, "message": exc.detail}) from exc
                return await super().on_ws_connect(context)

        ws = Subscriptions(schema, subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])
        app.router.routes.append(WebSocketRoute("/graphql", ws))
    except ImportError:  # pragma: no cover - strawberry always ships its ASGI app
        pass
