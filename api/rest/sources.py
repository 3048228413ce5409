"""`/v1/sources`: list by publisher and date, one source with its claims, and writing a document."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BeforeValidator
from starlette.responses import Response

from api.auth import ReadCaller, WriteCaller
from api.deps import DbDep, SettingsDep
from api.errors import Problem
from api.rest.common import (
    DATE_DOC,
    ITEM_CACHE,
    JSON,
    LIST_CACHE,
    LIST_HEADERS,
    LOCATION_HEADER,
    NEEDS_KEY,
    NO_STORE,
    OPTIONAL_KEY,
    READ_HEADERS,
    Instant,
    as_utc,
    cached,
    decode_cursor,
    next_link,
    problems,
)
from db import sources as store
from db.documents import WriteResult, write_source_document
from schema.common import MAX_ID, id_text
from schema.documents import SourceDocument
from schema.sources import ClaimWritten, SourcePage, SourcePublic, SourceWritten

router = APIRouter(prefix="/v1/sources", tags=["sources"])

SourceId = Annotated[int, Path(description="The source's id.", ge=1, le=MAX_ID, examples=[1]), BeforeValidator(id_text)]
Publisher = Annotated[int | None, Query(description="Published by this entity id.", ge=1, le=MAX_ID, examples=[2])]
PublishedAfter = Annotated[
    Instant | None, Query(description="Published at or after this. " + DATE_DOC, examples=["2025-11-01"])
]
PublishedBefore = Annotated[
    Instant | None, Query(description="Published before this. " + DATE_DOC, examples=["2025-12-01T00:00:00Z"])
]

WRITTEN_LINKS = {
    "getSource": {
        "operationId": "getSource",
        "parameters": {"path.source_id": "$response.body#/source_id"},
        "description": "Read the source just written.",
    },
    "listSourceClaims": {
        "operationId": "listClaims",
        "parameters": {"query.source": "$response.body#/source_id"},
        "description": "List the claims of the source just written.",
    },
}


@router.get(
    "",
    operation_id="listSources",
    summary="List sources",
    response_model=SourcePage,
    responses={200: {"headers": LIST_HEADERS}, 304: {"description": "Not modified."}, **problems(400)},
    openapi_extra=OPTIONAL_KEY,
)
async def list_sources(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    caller: ReadCaller,
    publisher: Publisher = None,
    published_after: PublishedAfter = None,
    published_before: PublishedBefore = None,
    limit: Annotated[int, Query(description="Page size, 1–100.", ge=1, le=100, examples=[20])] = 20,
    cursor: Annotated[
        str | None,
        Query(
            description="Opaque cursor from a previous page's `next_cursor`.", examples=["c291cmNlc3w"], max_length=200
        ),
    ] = None,
) -> Response:
    """Sources, newest published first (undated last), one keyset page at a time."""
    page = await store.list_sources(
        db,
        publisher=publisher,
        published_after=as_utc(published_after),
        published_before=as_utc(published_before),
        after=decode_cursor(cursor, "sources"),
        limit=limit,
    )
    link = next_link(request, page.next_cursor, settings.public_url)
    return cached(request, page.body, cache=LIST_CACHE, headers=link)


@router.get(
    "/{source_id}",
    operation_id="getSource",
    summary="Read a source with its claims",
    response_model=SourcePublic,
    responses={200: {"headers": READ_HEADERS}, 304: {"description": "Not modified."}, **problems(404)},
    openapi_extra=OPTIONAL_KEY,
)
async def get_source(request: Request, source_id: SourceId, db: DbDep, caller: ReadCaller) -> Response:
    """A source — title, URL, publisher, authors, publication time — with the claims that appear in
    it (the first 100 in document order; `GET /v1/claims?source={source_id}` pages through all)."""
    doc = await store.get_source(db, source_id)
    if doc is None:
        raise Problem(404, f"No source with id {source_id}.")
    return cached(request, doc.body, cache=ITEM_CACHE)


def written(result: WriteResult) -> SourceWritten:
    """The API's account of a document write."""
    return SourceWritten(
        source_id=result.source_id,
        created=result.changed,
        source_created=result.source_created,
        entities_created=result.entities_created,
        claims=[
            ClaimWritten(id=c.id, created=c.created, appearance_created=c.appearance_created) for c in result.claims
        ],
    )


@router.post(
    "",
    operation_id="createSource",
    summary="Write a source document",
    status_code=201,
    response_model=SourceWritten,
    responses={
        201: {"description": "Something was new.", "headers": {"Location": LOCATION_HEADER}, "links": WRITTEN_LINKS},
        200: {
            "description": "Everything was known already; nothing changed.",
            "model": SourceWritten,
            "headers": {"Location": LOCATION_HEADER},
            "links": WRITTEN_LINKS,
        },
        **problems(409, write=True),
    },
    dependencies=NEEDS_KEY,
)
async def create_source(document: SourceDocument, db: DbDep, caller: WriteCaller) -> Response:
    """One source document — the source, its claims with speakers, appearances, mentions, topics
    and relations; entities by id, external id, name or alias — written in one transaction through
    the store's normalisation. Idempotent: the same document again answers `200` and changes
    nothing; `201` with `Location` when anything was new. A reference that does not resolve is a
    `422` naming the field, and nothing is written. A claim that was deleted is not written again:
    `409` naming the claim."""
    result = await write_source_document(db, document)
    body = written(result).model_dump_json().encode()
    headers = {"Location": f"/v1/sources/{result.source_id}", "Cache-Control": NO_STORE}
    return Response(body, status_code=201 if result.changed else 200, media_type=JSON, headers=headers)
