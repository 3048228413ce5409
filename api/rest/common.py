"""What every /v1 router shares: claim filters, cached JSON responses (ETag/304, Cache-Control),
the `Link` header, JSON-LD negotiation, documented error responses and the OpenAPI touch-ups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from pydantic import BeforeValidator, Field
from starlette.responses import Response
from xxhash import xxh3_64_intdigest

from api.errors import Problem as ProblemError
from api.routing import Answer
from db.filters import ClaimFilter, Cursor, CursorError, Sort
from schema.claims import ReviewState
from schema.common import MAX_ID, Problem
from schema.documents import ClaimKind, Language, Slug

JSON = "application/json"
JSON_LD = "application/ld+json"
NDJSON = "application/x-ndjson"
LIST_CACHE = "public, max-age=30"
ITEM_CACHE = "public, max-age=60"
NO_STORE = "no-store"

API_KEY_SCHEME = "ApiKeyAuth"
api_key = APIKeyHeader(
    name="X-API-Key",
    scheme_name=API_KEY_SCHEME,
    auto_error=False,
    description="An API key (`claims keys create --scope write`). Writes need `write`; merges and deletes `admin`.",
)
# Documents the key on write operations; `api.auth` enforces it.
NEEDS_KEY = [Security(api_key)]
# Reads are public unless the operator turns on CLAIMS_REQUIRE_KEY_FOR_READS.
OPTIONAL_KEY: dict[str, Any] = {"security": [{}, {API_KEY_SCHEME: []}]}

PROBLEM_TEXT = {
    304: "Not modified: the representation matches `If-None-Match`.",
    400: "The request is malformed: a cursor this API did not issue, or a body that is not UTF-8 JSON.",
    401: "An API key is required.",
    403: "The API key lacks the scope this operation needs.",
    404: "No such resource.",
    409: "The change conflicts with the current state.",
    410: "The resource was deleted.",
    412: "`If-Match` does not match the current ETag: someone changed the resource first.",
    413: "The request body is too large.",
    415: "The request body has an unsupported media type.",
    422: "A parameter or the body is invalid; `errors` names each offending field.",
    428: "This operation needs an `If-Match` header with the resource's ETag.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    503: "The database is unavailable or a statement timed out; retry shortly.",
}


def problems(*statuses: int, write: bool = False) -> dict[int | str, dict[str, Any]]:
    """`responses=` for an operation: each status as an `application/problem+json` `Problem`."""
    codes = {*statuses, 422, 429, 503} | ({400, 401, 403, 413, 415} if write else set())
    return {code: {"model": Problem, "description": PROBLEM_TEXT[code]} for code in sorted(codes)}


def header(description: str, example: str, *, required: bool = True) -> dict[str, Any]:
    """An OpenAPI response header."""
    return {"description": description, "required": required, "schema": {"type": "string", "examples": [example]}}


ETAG_HEADER = header(
    "Strong validator of this representation; send it back in `If-None-Match` or `If-Match`.", '"1-5d41402abc4b2a76"'
)
CACHE_HEADER = header("How long the response may be cached.", ITEM_CACHE)
LINK_HEADER = header(
    '`<…?cursor=…>; rel="next"` when there is a next page.', '</v1/claims?cursor=abc>; rel="next"', required=False
)
LOCATION_HEADER = header("The created (or found) resource.", "/v1/claims/1")
READ_HEADERS = {"ETag": ETAG_HEADER, "Cache-Control": CACHE_HEADER}
LIST_HEADERS = {**READ_HEADERS, "Link": LINK_HEADER}


# --- responses ----------------------------------------------------------------------------------


def etag_for(body: bytes, version: int | None = None) -> str:
    """A strong ETag: the content digest, prefixed by the resource's version when it has one.

    The digest is XXH3's 64 bits: not for security, it only has to tell versions of one resource
    apart (the version prefix already does for the claim's own changes), and every read pays it.
    """
    return etag_bytes(body, version).decode()


def etag_bytes(body: bytes, version: int | None = None) -> bytes:
    """`etag_for` as the header's bytes."""
    digest = xxh3_64_intdigest(body)  # printed as 16 hex digits, xxhash's own hexdigest
    return b'"%d-%016x"' % (version, digest) if version is not None else b'"%016x"' % digest


def etag_matches(header_value: str | None, etag: str, *, weak: bool) -> bool:
    """Whether an `If-None-Match` (weak comparison) or `If-Match` (strong) header names ``etag``."""
    if header_value is None:
        return False
    for candidate in header_value.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if weak and tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def cached(
    request: Request,
    body: bytes,
    *,
    cache: str,
    version: int | None = None,
    media_type: str = JSON,
    headers: dict[str, str] | None = None,
) -> Response:
    """A read's response with ETag and Cache-Control, or ``304`` when the client's copy is current."""
    if_none_match = request.headers.get("if-none-match")
    return cached_answer(
        if_none_match, body, cache=cache, version=version, media_type=media_type, headers=headers
    ).response()


def cached_answer(
    if_none_match: str | bytes | None,
    body: bytes,
    *,
    cache: str,
    version: int | None = None,
    media_type: str = JSON,
    headers: dict[str, str] | None = None,
) -> Answer:
    """A read's `Answer`: ETag, Cache-Control and ``Vary: Accept``, then the given ``headers``; the
    body with its length and type, or ``304`` without them when ``if_none_match`` names the ETag."""
    etag = etag_bytes(body, version)
    out = [(b"etag", etag), (b"cache-control", cache.encode()), _VARY_ACCEPT]
    if headers:
        out += ((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    if if_none_match is not None:
        if isinstance(if_none_match, bytes):
            if_none_match = if_none_match.decode("latin-1")
        if etag_matches(if_none_match, etag.decode(), weak=True):
            return Answer(304, out, b"")
    out.append((b"content-length", b"%d" % len(body)))
    out.append(_JSON_TYPE if media_type is JSON else (b"content-type", media_type.encode("latin-1")))
    return Answer(200, out, body)


_VARY_ACCEPT = (b"vary", b"Accept")
_JSON_TYPE = (b"content-type", JSON.encode())


def next_link(request: Request, cursor: str | None, public_url: str | None) -> dict[str, str]:
    """The `Link: <…>; rel="next"` header for a page (none on the last page)."""
    if cursor is None:
        return {}
    url = request.url.include_query_params(cursor=cursor)
    target = str(url)
    if public_url:
        target = public_url.rstrip("/") + url.path + ("?" + url.query if url.query else "")
    return {"Link": f'<{target}>; rel="next"'}


def base_url(request: Request, public_url: str | None) -> str:
    """This API's absolute base URL (for JSON-LD `@id`s)."""
    return (public_url or str(request.base_url)).rstrip("/")


def wants_linked_data(request: Request) -> bool:
    """Whether the client prefers schema.org JSON-LD to plain JSON."""
    accept = request.headers.get("accept", "")
    best: tuple[float, str] = (0.0, "")
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media in (JSON_LD, JSON) and q > best[0]:
            best = (q, media)
    return best[1] == JSON_LD


# --- claim filters ------------------------------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
NO_NUL = r"^[^\x00]*$"
OrderBy = Literal["-said_at", "said_at", "-reported_at", "relevance"]
ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?")


def iso_only(value: object) -> object:
    """Dates and date-times in ISO 8601 only: pydantic alone would read ``0.5`` as a Unix time."""
    if isinstance(value, str) and ISO_8601.fullmatch(value):
        return value
    if isinstance(value, datetime | date):
        return value
    raise ValueError("expected an ISO 8601 date (2025-11-25) or date-time (2025-11-25T10:00:00+01:00)")


Instant = Annotated[datetime | date, BeforeValidator(iso_only)]
DATE_DOC = "ISO 8601 date or date-time; a date means midnight UTC and a date-time without offset is UTC."


def as_utc(value: Instant | None) -> datetime | None:
    """A filter bound as an aware UTC instant: naive values are UTC, dates are midnight.

    Bounds beyond what PostgreSQL and Python can hold are clamped: nothing is after year 9999.
    """
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC) if value.year > 1 else datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ClaimQuery:
    """A parsed claims-list request: the filter, the ordering, where to start and how many."""

    filter: ClaimFilter
    sort: Sort
    after: Cursor | None
    limit: int


def _ids(description: str, example: int) -> Any:
    return Query(description=description, examples=[[example]], max_length=50)


async def claim_query(
    speaker: Annotated[list[Id] | None, _ids("Said by this entity id; repeat for any of several.", 3)] = None,
    mentions: Annotated[list[Id] | None, _ids("Mentions this entity id; repeat for any of several.", 5)] = None,
    topic: Annotated[
        list[Slug] | None,
        Query(description="Filed under this topic slug; repeatable.", examples=[["ukraine-crisis"]], max_length=20),
    ] = None,
    source: Annotated[list[Id] | None, _ids("Appears in this source id; repeatable.", 1)] = None,
    reported_by: Annotated[list[Id] | None, _ids("Reported by this publisher entity id; repeatable.", 2)] = None,
    said_after: Annotated[
        Instant | None, Query(description="Said at or after this. " + DATE_DOC, examples=["2025-11-01"])
    ] = None,
    said_before: Annotated[
        Instant | None, Query(description="Said before this. " + DATE_DOC, examples=["2025-12-01"])
    ] = None,
    reported_after: Annotated[
        Instant | None,
        Query(description="Reported at or after this. " + DATE_DOC, examples=["2025-11-01T00:00:00Z"]),
    ] = None,
    reported_before: Annotated[
        Instant | None,
        Query(description="Reported before this. " + DATE_DOC, examples=["2025-12-01T00:00:00+01:00"]),
    ] = None,
    kind: Annotated[
        list[ClaimKind] | None,
        Query(description="Claim kind; repeatable.", examples=[["direct_quote"]], max_length=3),
    ] = None,
    lang: Annotated[
        list[Language] | None,
        Query(description="Content language (BCP 47); repeatable.", examples=[["en"]], max_length=20),
    ] = None,
    review_state: Annotated[
        list[ReviewState] | None,
        Query(
            description="Review state; repeatable. `unreviewed` lists extracted claims nobody has reviewed yet.",
            examples=[["unreviewed"]],
            max_length=5,
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            description='Full-text search over the content (web-search syntax: words, "phrases", -not, or).',
            examples=["security guarantees"],
            max_length=500,
            pattern=NO_NUL,
        ),
    ] = None,
    sort: Annotated[
        OrderBy,
        Query(
            description="`-said_at` newest said first (default), `said_at` oldest first, `-reported_at` newest "
            "reported first, `relevance` best match first (only with `q`).",
            examples=["-said_at"],
        ),
    ] = "-said_at",
    limit: Annotated[int, Query(description="Page size, 1–100.", ge=1, le=100, examples=[20])] = 20,
    cursor: Annotated[
        str | None,
        Query(
            description="Opaque cursor from a previous page's `next_cursor`, for the same filters and sort.",
            examples=["LXNhaWRfYXR8LWluZmluaXR5fDE"],
            max_length=200,
        ),
    ] = None,
) -> ClaimQuery:
    """Parse the filters shared by every claims list."""
    text = q.strip() if q else None
    if sort == "relevance" and not text:
        raise field_problem("query.sort", "sort=relevance needs a text query `q`")
    f = ClaimFilter(
        speakers=tuple(speaker or ()),
        mentions=tuple(mentions or ()),
        topics=tuple(topic or ()),
        sources=tuple(source or ()),
        reported_by=tuple(reported_by or ()),
        said_after=as_utc(said_after),
        said_before=as_utc(said_before),
        reported_after=as_utc(reported_after),
        reported_before=as_utc(reported_before),
        kinds=tuple(kind or ()),
        languages=tuple(lang or ()),
        review_states=tuple(review_state or ()),
        q=text or None,
    )
    return ClaimQuery(f, sort, decode_cursor(cursor, sort), limit)


ClaimQueryDep = Annotated[ClaimQuery, Depends(claim_query)]


def field_problem(field: str, message: str, status: int = 422) -> ProblemError:
    """A validation problem naming one field."""
    return ProblemError(status, f"{field}: {message}", kind="validation", errors=[{"field": field, "message": message}])


def decode_cursor(cursor: str | None, sort: str) -> Cursor | None:
    """A list cursor, or a 400 problem naming `query.cursor`."""
    if not cursor:
        return None
    try:
        return Cursor.decode(cursor, sort)
    except CursorError as exc:
        raise ProblemError(
            400, str(exc), kind="invalid-cursor", errors=[{"field": "query.cursor", "message": str(exc)}]
        ) from exc


def _query_names(route: APIRoute) -> frozenset[str]:
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        names = _QUERY_NAMES[id(route)] = frozenset(_query_aliases(route.dependant))
    return names


def _query_aliases(dependant: Dependant) -> list[str]:
    """Every query parameter's name, through the dependencies too."""
    names = [p.alias for p in dependant.query_params]
    for sub in dependant.dependencies:
        names.extend(_query_aliases(sub))
    return names


_QUERY_NAMES: dict[int, frozenset[str]] = {}


async def known_query_parameters(request: Request) -> None:
    """A 400 naming the first query parameter the operation does not take (a typo must not be ignored)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    allowed = _query_names(route)
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        message = f"unknown query parameter (this operation takes: {takes})"
        raise ProblemError(
            400,
            f"query.{unknown[0]}: {message}",
            kind="unknown-parameter",
            errors=[{"field": f"query.{name}", "message": message} for name in unknown],
        )


# --- OpenAPI ------------------------------------------------------------------------------------


BAD_REQUEST = {
    "description": "The request is malformed: a query parameter the operation lacks, or a body that is not JSON.",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def fix_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Error responses are `application/problem+json`, not the route's JSON; drop FastAPI's unused
    validation-error schemas."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                content = response.get("content")
                if status[0] in "45" and content and JSON in content:
                    content.setdefault("application/problem+json", content.pop(JSON))
            responses.setdefault("400", BAD_REQUEST)
            for parameter in operation.get("parameters", []):
                _drop_null(parameter.get("schema", {}))
    _integer_bounds(schema)
    text = repr(schema.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}'" not in text:
            schema.get("components", {}).get("schemas", {}).pop(name, None)
    return schema


def _integer_bounds(node: Any) -> None:
    """Integer bounds as integers: FastAPI's OpenAPI models hold ``minimum``/``maximum`` as floats,
    which turns 2⁶³−1 into 9.223372036854776e+18 (2⁶³, a value the server refuses). The only bound
    past 2⁵³ here is `MAX_ID`; every other float bound of an integer is exact."""
    if isinstance(node, list):
        for item in node:
            _integer_bounds(item)
    if not isinstance(node, dict):
        return
    if node.get("type") == "integer":
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            value = node.get(key)
            if isinstance(value, float):
                node[key] = MAX_ID if value == float(MAX_ID) else int(value)
    for value in node.values():
        _integer_bounds(value)


def _drop_null(schema: dict[str, Any]) -> None:
    """``anyOf: [X, null]`` → ``X`` for a parameter: a query string or header cannot carry null."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or {"type": "null"} not in options:
        return
    kept = [o for o in options if o != {"type": "null"}]
    if len(kept) == 1:
        del schema["anyOf"]
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept
