"""`GET /v1/export`: every source document as NDJSON, streamed at constant memory."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import StreamingResponse

from api.auth import ReadCaller
from api.deps import DbDep
from api.rest.common import NDJSON, OPTIONAL_KEY, as_utc, problems
from api.rest.sources import PublishedAfter, PublishedBefore, Publisher
from db import sources as store

router = APIRouter(prefix="/v1", tags=["bulk"])

LINES_SCHEMA = {
    "type": "string",
    "description": "Newline-delimited JSON: each line a `SourceDocument` (see `#/components/schemas/SourceDocument`).",
}

EXAMPLE_LINE = (
    '{"source": {"kind": "news_article", "title": "Merz, Macron, Starmer said …", "url": "https://tass.com/x/1", '
    '"publisher": {"name": "TASS", "kind": "organization"}, "published_at": "2025-11-26T00:00:00+00:00"}, '
    '"claims": [], "topics": []}\n'
)


@router.get(
    "/export",
    operation_id="exportSources",
    summary="Export source documents (NDJSON)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One `SourceDocument` per line, oldest source first, from one consistent snapshot.",
            "content": {NDJSON: {"schema": LINES_SCHEMA, "example": EXAMPLE_LINE}},
            "headers": {"Cache-Control": {"description": "Never cached.", "schema": {"type": "string"}}},
        },
        **problems(),
    },
    openapi_extra=OPTIONAL_KEY,
)
async def export_sources(
    db: DbDep,
    caller: ReadCaller,
    publisher: Publisher = None,
    published_after: PublishedAfter = None,
    published_before: PublishedBefore = None,
) -> StreamingResponse:
    """Every matching source as a source document in exactly the input format of
    `POST /v1/sources` and `POST /v1/import` (one JSON object per line), so an export imports back
    unchanged — into this database (nothing new) or an empty one. Entities are referenced by name,
    kind, aliases and external ids; deleted claims are left out; relations are kept between claims
    of the same document. Streamed from a server-side cursor, so memory stays flat at any size."""
    f = store.SourceFilter(publisher, as_utc(published_after), as_utc(published_before))
    return StreamingResponse(store.export_documents(db, f), media_type=NDJSON, headers={"Cache-Control": "no-store"})
