"""`/v1/entities`: name search, one entity, its claims and mentions, and merging duplicates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BeforeValidator
from starlette.responses import Response

from api.auth import AdminCaller, ReadCaller
from api.deps import DbDep, SettingsDep
from api.errors import Problem
from api.rest.common import (
    ITEM_CACHE,
    JSON,
    LIST_CACHE,
    LIST_HEADERS,
    NEEDS_KEY,
    NO_NUL,
    NO_STORE,
    OPTIONAL_KEY,
    READ_HEADERS,
    ClaimQueryDep,
    cached,
    decode_cursor,
    field_problem,
    header,
    next_link,
    problems,
)
from db import claims as claim_store
from db import entities as store
from schema.claims import ClaimPage
from schema.common import MAX_ID, EntityMoved, id_text
from schema.documents import EntityKind
from schema.entities import EntityMerge, EntityPage, EntityPublic

router = APIRouter(prefix="/v1/entities", tags=["entities"])

EntityId = Annotated[int, Path(description="The entity's id.", ge=1, le=MAX_ID, examples=[1]), BeforeValidator(id_text)]
MOVED: dict[int | str, dict[str, Any]] = {
    308: {
        "description": "The entity was merged into another: follow `Location` (same method, same query).",
        "model": EntityMoved,
        "headers": {"Location": header("Where the surviving entity is.", "/v1/entities/3")},
    }
}
ENTITY_LINKS = {
    "listEntityClaims": {
        "operationId": "listEntityClaims",
        "parameters": {"path.entity_id": "$response.body#/id"},
        "description": "The claims this entity made.",
    },
    "listEntityMentions": {
        "operationId": "listEntityMentions",
        "parameters": {"path.entity_id": "$response.body#/id"},
        "description": "The claims that mention this entity.",
    },
}


def _moved(request: Request, entity_id: int, merged_into: int) -> Response:
    path = request.url.path.replace(f"/v1/entities/{entity_id}", f"/v1/entities/{merged_into}", 1)
    location = path + ("?" + request.url.query if request.url.query else "")
    body = EntityMoved(id=entity_id, merged_into=merged_into, location=location).model_dump_json().encode()
    return Response(body, status_code=308, media_type=JSON, headers={"Location": location, "Cache-Control": ITEM_CACHE})


@router.get(
    "",
    operation_id="listEntities",
    summary="Search entities",
    response_model=EntityPage,
    responses={200: {"headers": LIST_HEADERS}, 304: {"description": "Not modified."}, **problems(400)},
    openapi_extra=OPTIONAL_KEY,
)
async def list_entities(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    caller: ReadCaller,
    q: Annotated[
        str | None,
        Query(
            description="Name search over every alias, case- and accent-insensitive; the last word matches as a "
            "prefix (`fried mer` finds Friedrich Merz). Best match first.",
            examples=["merz"],
            max_length=200,
            pattern=NO_NUL,
        ),
    ] = None,
    kind: Annotated[EntityKind | None, Query(description="Only entities of this kind.", examples=["person"])] = None,
    limit: Annotated[int, Query(description="Page size, 1–100.", ge=1, le=100, examples=[20])] = 20,
    cursor: Annotated[
        str | None,
        Query(
            description="Opaque cursor from a previous page's `next_cursor`.",
            examples=["ZW50aXRpZXN8MXwx"],
            max_length=200,
        ),
    ] = None,
) -> Response:
    """Entities (merged duplicates excluded), found by any of their names when `q` is given."""
    text = q.strip() if q and q.strip() else None
    after = decode_cursor(cursor, "entities" if text is None else "entities-rank")
    page = await store.list_entities(db, q=text, kind=kind, after=after, limit=limit)
    return cached(
        request, page.body, cache=LIST_CACHE, headers=next_link(request, page.next_cursor, settings.public_url)
    )


@router.get(
    "/{entity_id}",
    operation_id="getEntity",
    summary="Read an entity",
    response_model=EntityPublic,
    responses={
        200: {"headers": READ_HEADERS, "links": ENTITY_LINKS},
        304: {"description": "Not modified."},
        **MOVED,
        **problems(404),
    },
    openapi_extra=OPTIONAL_KEY,
)
async def get_entity(request: Request, entity_id: EntityId, db: DbDep, caller: ReadCaller) -> Response:
    """An entity with its aliases, roles, external ids and how many claims it made and is mentioned
    in. An entity merged into another answers `308 Permanent Redirect` to the survivor."""
    doc = await store.get_entity(db, entity_id)
    if doc is None:
        raise Problem(404, f"No entity with id {entity_id}.")
    if doc.merged_into is not None:
        return _moved(request, entity_id, doc.merged_into)
    return cached(request, doc.body, cache=ITEM_CACHE)


async def _entity_claims(
    request: Request, scope: str, entity_id: int, query: ClaimQueryDep, db: DbDep, public_url: str | None
) -> Response:
    page = await claim_store.list_claims(
        db, query.filter, sort=query.sort, after=query.after, limit=query.limit, scope=(scope, entity_id)
    )
    if page.owner is None:
        raise Problem(404, f"No entity with id {entity_id}.")
    if page.owner:
        return _moved(request, entity_id, page.owner)
    return cached(request, page.body, cache=LIST_CACHE, headers=next_link(request, page.next_cursor, public_url))


@router.get(
    "/{entity_id}/claims",
    operation_id="listEntityClaims",
    summary="List an entity's claims",
    response_model=ClaimPage,
    responses={200: {"headers": LIST_HEADERS}, 304: {"description": "Not modified."}, **MOVED, **problems(400, 404)},
    openapi_extra=OPTIONAL_KEY,
)
async def list_entity_claims(
    request: Request, entity_id: EntityId, query: ClaimQueryDep, db: DbDep, settings: SettingsDep, caller: ReadCaller
) -> Response:
    """Claims the entity made (as speaker, co-signatory or on whose behalf), with the same filters,
    ordering and keyset pages as `GET /v1/claims`."""
    return await _entity_claims(request, "speaker", entity_id, query, db, settings.public_url)


@router.get(
    "/{entity_id}/mentions",
    operation_id="listEntityMentions",
    summary="List claims mentioning an entity",
    response_model=ClaimPage,
    responses={200: {"headers": LIST_HEADERS}, 304: {"description": "Not modified."}, **MOVED, **problems(400, 404)},
    openapi_extra=OPTIONAL_KEY,
)
async def list_entity_mentions(
    request: Request, entity_id: EntityId, query: ClaimQueryDep, db: DbDep, settings: SettingsDep, caller: ReadCaller
) -> Response:
    """Claims about the entity, with the same filters, ordering and pages as `GET /v1/claims`."""
    return await _entity_claims(request, "mention", entity_id, query, db, settings.public_url)


def merge_problem(exc: store.MergeRefused) -> Problem:
    """A refused merge in REST's words: the path's entity is 404 or 409, ``into`` a 422 field error."""
    if isinstance(exc, store.EntityNotFound) and not exc.survivor:
        return Problem(404, f"No entity with id {exc.entity_id}.")
    if isinstance(exc, store.AlreadyMerged):
        return Problem(409, f"Entity {exc.entity_id} was already merged into {exc.merged_into}.")
    return field_problem("body.into", str(exc))


@router.post(
    "/{entity_id}/merge",
    operation_id="mergeEntity",
    summary="Merge a duplicate entity into another",
    response_model=EntityPublic,
    responses={200: {"description": "The surviving entity.", "links": ENTITY_LINKS}, **problems(404, 409, write=True)},
    dependencies=NEEDS_KEY,
)
async def merge_entity(entity_id: EntityId, body: EntityMerge, db: DbDep, caller: AdminCaller) -> Response:
    """Folds the entity in the path into `into`: its aliases, external ids, roles, claims, mentions,
    authorships and publications move to the survivor, and claims that thereby become identical
    (same speakers, same content) are folded into one. The merged entity then redirects (`308`)
    to the survivor. Needs the `admin` scope; merging again into the same survivor is a no-op."""
    try:
        survivor = await store.merge_entity(db, entity_id, body.into)
    except store.MergeRefused as exc:
        raise merge_problem(exc) from exc
    doc = await store.get_entity(db, survivor)
    assert doc is not None
    return Response(doc.body, media_type=JSON, headers={"Cache-Control": NO_STORE})
