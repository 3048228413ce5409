"""RFC 9457 problem details: every error the API gives is `application/problem+json`.

``{"type": "https://claimsbase.dev/problems/validation", "title": "Invalid request", "status": 422,
"detail": "…", "errors": [{"field": "query.limit", "message": "…"}]}``
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from db.database import DatabaseUnavailable, StatementTimeout
from db.documents import DocumentError

log = logging.getLogger("claims.api")

PROBLEM = "application/problem+json"
PROBLEM_BASE = "https://claimsbase.dev/problems/"

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid request",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or TITLES.get(status, "error").lower().replace(" ", "-")
        self.errors = errors
        self.headers = headers or {}


def problem_body(
    status: int,
    detail: str,
    *,
    kind: str,
    errors: list[dict[str, str]] | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """The JSON of a problem document."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> Response:
    """A `Response` carrying a problem document."""
    kind = kind or TITLES.get(status, "error").lower().replace(" ", "-")
    body = problem_body(status, detail, kind=kind, errors=errors, instance=instance)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "claims", 0, "content")`` → ``"body.claims[0].content"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def validation_errors(errors: Any) -> list[dict[str, str]]:
    """pydantic's error list as ``[{"field": …, "message": …}]``, without echoing the input back."""
    out = []
    for err in errors:
        loc = [p for p in err.get("loc", ()) if p not in ("function-after[_identified(), EntityRef]",)]
        out.append({"field": field_path(loc), "message": str(err.get("msg", "invalid"))})
    return out


async def on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.status,
        exc.detail,
        kind=exc.kind,
        errors=exc.errors,
        headers=exc.headers,
        instance=request.url.path,
    )


PRECONDITION_REQUIRED = "Send If-Match with the resource's ETag (from a GET of it)."


async def on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("header", "If-Match") for e in exc.errors()):
        # RFC 6585: a request that must be conditional and is not is 428, whatever else is wrong.
        return problem_response(428, PRECONDITION_REQUIRED, instance=request.url.path)
    errors = validation_errors(exc.errors())
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(422, detail, kind="validation", errors=errors, instance=request.url.path)


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
    return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}), instance=request.url.path)


def document_status(exc: DocumentError) -> tuple[int, str]:
    """A refused document's status and problem type: 409 when it repeats a deleted claim (the
    request is well formed; the store's state refuses it), else 422."""
    return (409, "claim-deleted") if exc.code == "deleted" else (422, "invalid-document")


async def on_document(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DocumentError)
    status, kind = document_status(exc)
    return problem_response(
        status,
        exc.message,
        kind=kind,
        errors=[{"field": "body." + exc.field, "message": exc.message}],
        instance=request.url.path,
    )


async def on_unavailable(request: Request, exc: Exception) -> Response:
    limit = "statement timeout" if isinstance(exc, StatementTimeout) else "database unavailable"
    log.warning("database problem", extra={"reason": limit})
    return problem_response(
        503,
        f"The request could not be served ({limit}); try again shortly.",
        kind="unavailable",
        headers={"Retry-After": "2"},
        instance=request.url.path,
    )


async def on_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error")
    return problem_response(500, "An internal error occurred.", kind="internal", instance=request.url.path)


HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    Problem: on_problem,
    RequestValidationError: on_validation,
    StarletteHTTPException: on_http,
    HTTPException: on_http,
    DocumentError: on_document,
    DatabaseUnavailable: on_unavailable,
    Exception: on_error,
}


def install(app: FastAPI) -> None:
    """Route every exception the app can raise to a problem document."""
    for cls, handler in HANDLERS.items():
        app.add_exception_handler(cls, handler)
