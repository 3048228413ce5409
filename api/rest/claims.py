"""`/v1/claims`: list with filters, read one (JSON or schema.org JSON-LD), create, patch, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Request
from pydantic import BeforeValidator, ValidationError
from starlette.responses import Response
from starlette.types import Scope

from api.auth import AdminCaller, ReadCaller, WriteCaller, caller_in_scope
from api.deps import DbDep, SettingsDep
from api.errors import PRECONDITION_REQUIRED, Problem, document_status, validation_errors
from api.rest.common import (
    ETAG_HEADER,
    ITEM_CACHE,
    JSON,
    JSON_LD,
    LIST_CACHE,
    LIST_HEADERS,
    LOCATION_HEADER,
    NEEDS_KEY,
    NO_STORE,
    OPTIONAL_KEY,
    READ_HEADERS,
    ClaimQueryDep,
    base_url,
    cached,
    cached_answer,
    etag_for,
    etag_matches,
    field_problem,
    next_link,
    problems,
    wants_linked_data,
)
from api.routing import Answer, plain
from db import claims as store
from db import sources as source_store
from db.database import Database
from db.documents import DocumentError, write_source_document
from schema.claims import ClaimCreate, ClaimLinkedData, ClaimPage, ClaimPublic, ClaimUpdate, SourceById
from schema.common import MAX_ID, id_text, parse_id
from schema.documents import SourceDocument, SourceIn

router = APIRouter(prefix="/v1/claims", tags=["claims"])

ClaimId = Annotated[int, Path(description="The claim's id.", ge=1, le=MAX_ID, examples=[1]), BeforeValidator(id_text)]
IfMatch = Annotated[
    str,
    Header(
        alias="If-Match",
        description="The ETag from your last read of the claim; required (428 without it, 412 when stale).",
        examples=['"1-5d41402abc4b2a76"'],
    ),
]

CLAIM_LINKS = {
    "patchClaim": {
        "operationId": "patchClaim",
        "parameters": {"path.claim_id": "$response.body#/id", "header.If-Match": "$response.header.ETag"},
        "description": "Change the claim just read, against its ETag.",
    },
    "deleteClaim": {
        "operationId": "deleteClaim",
        "parameters": {"path.claim_id": "$response.body#/id"},
        "description": "Delete the claim just read.",
    },
    "getClaim": {
        "operationId": "getClaim",
        "parameters": {"path.claim_id": "$response.body#/id"},
        "description": "Read the claim again.",
    },
}
LD_CONTENT = {JSON_LD: {"schema": ClaimLinkedData.model_json_schema(by_alias=True)}}


@router.get(
    "",
    operation_id="listClaims",
    summary="List claims",
    response_model=ClaimPage,
    responses={200: {"headers": LIST_HEADERS}, 304: {"description": "Not modified."}, **problems(400)},
    openapi_extra=OPTIONAL_KEY,
)
async def list_claims(
    request: Request, query: ClaimQueryDep, db: DbDep, settings: SettingsDep, caller: ReadCaller
) -> Response:
    """Claims matching every given filter (values of one repeated filter are alternatives), one
    keyset page at a time: `next_cursor` (and the `Link: rel="next"` header) fetches the next page
    at the same cost as the first, with the same filters and `sort`."""
    page = await store.list_claims(db, query.filter, sort=query.sort, after=query.after, limit=query.limit)
    return cached(
        request, page.body, cache=LIST_CACHE, headers=next_link(request, page.next_cursor, settings.public_url)
    )


async def read_claim(db: Database, claim_id: int, if_none_match: str | bytes | None, linked_base: str | None) -> Answer:
    """getClaim: the claim as JSON (or as schema.org JSON-LD with ``@id``s under ``linked_base``)."""
    doc = readable(await store.get_claim(db, claim_id, linked_data_base=linked_base), claim_id)
    media_type = JSON_LD if linked_base else JSON
    return cached_answer(if_none_match, doc.body, cache=ITEM_CACHE, version=doc.version, media_type=media_type)


async def plain_read(scope: Scope, body: bytes) -> Answer | None:
    """getClaim's plain shape: a well-formed id, no query string, plain JSON, a caller allowed to read."""
    if scope["query_string"] or (claim_id := parse_id(scope["path_params"]["claim_id"])) is None:
        return None
    headers = dict(reversed(scope["headers"]))
    accept = headers.get(b"accept")
    if (accept and b"ld+json" in accept) or caller_in_scope(scope, "read") is None:
        return None
    return await read_claim(scope["app"].state.db, claim_id, headers.get(b"if-none-match"), None)


@plain(plain_read)
@router.get(
    "/{claim_id}",
    operation_id="getClaim",
    summary="Read a claim",
    response_model=ClaimPublic,
    responses={
        200: {"headers": READ_HEADERS, "content": LD_CONTENT, "links": CLAIM_LINKS},
        304: {"description": "Not modified: your copy (`If-None-Match`) is current."},
        **problems(404, 410),
    },
    openapi_extra=OPTIONAL_KEY,
)
async def get_claim(
    request: Request, claim_id: ClaimId, db: DbDep, settings: SettingsDep, caller: ReadCaller
) -> Response:
    """The whole normalised claim: speakers with roles, content, kind, when said (with precision),
    where, topics, mentions, every appearance (source, publisher, the quote as printed, its span,
    the cited source) and related claims. `Accept: application/ld+json` returns a schema.org
    `Claim` instead. A deleted claim answers `410 Gone`."""
    linked_base = base_url(request, settings.public_url) if wants_linked_data(request) else None
    answer = await read_claim(db, claim_id, request.headers.get("if-none-match"), linked_base)
    return answer.response()


def readable(doc: store.Doc | None, claim_id: int) -> store.Doc:
    """``doc``, or the 404 (no such claim) or 410 (deleted) a read answers instead."""
    if doc is None:
        raise Problem(404, f"No claim with id {claim_id}.")
    if doc.deleted:
        raise Problem(410, f"Claim {claim_id} was deleted.")
    return doc


@router.post(
    "",
    operation_id="createClaim",
    summary="Add a claim",
    status_code=201,
    response_model=ClaimPublic,
    responses={
        201: {
            "description": "The claim (or its appearance in this source) was added.",
            "headers": {"Location": LOCATION_HEADER, "ETag": ETAG_HEADER},
            "links": CLAIM_LINKS,
        },
        200: {
            "description": "Already known: nothing changed.",
            "model": ClaimPublic,
            "headers": {"Location": LOCATION_HEADER, "ETag": ETAG_HEADER},
            "links": CLAIM_LINKS,
        },
        **problems(409, write=True),
    },
    dependencies=NEEDS_KEY,
)
async def create_claim(body: ClaimCreate, db: DbDep, caller: WriteCaller) -> Response:
    """One claim and where it was reported, written through the same normalisation as a source
    document: entities are found again by id, external id or alias, and the same quote by the same
    speakers is the same claim — reporting it from another source adds an appearance. The claim's
    `appearance` defaults to its content quoted verbatim."""
    source = await _source_in(db, body.source)
    try:
        document = SourceDocument(source=source, claims=[body.claim])
    except ValidationError as exc:
        errors = [{**e, "field": _body_field(e["field"])} for e in validation_errors(exc.errors())]
        raise Problem(422, errors[0]["message"], kind="validation", errors=errors) from exc
    try:
        result = await write_source_document(db, document)
    except DocumentError as exc:
        path = exc.field.replace("claims[0]", "claim")
        status, kind = document_status(exc)
        raise Problem(
            status, exc.message, kind=kind, errors=[{"field": "body." + path, "message": exc.message}]
        ) from exc
    claim_id = result.claims[0].id
    doc = await store.get_claim(db, claim_id)
    assert doc is not None
    return Response(
        doc.body,
        status_code=201 if result.changed else 200,
        media_type=JSON,
        headers={
            "Location": f"/v1/claims/{claim_id}",
            "ETag": etag_for(doc.body, doc.version),
            "Cache-Control": NO_STORE,
        },
    )


def _body_field(path: str) -> str:
    """A path in the one-claim document as a path in this request's body."""
    path = path.replace("claims[0]", "claim")
    return "body" + ("." + path if path else "")


async def _source_in(db: Database, ref: Any) -> SourceIn:
    if not isinstance(ref, SourceById):
        return SourceIn.model_validate(ref.model_dump(exclude_unset=True))
    try:
        found = await source_store.source_ref(db, ref.id)
    except source_store.SourceNotReferable as exc:
        raise Problem(409, str(exc)) from exc
    if found is None:
        raise field_problem("body.source.id", f"no source with id {ref.id}")
    return found


@router.patch(
    "/{claim_id}",
    operation_id="patchClaim",
    summary="Change a claim",
    response_model=ClaimPublic,
    responses={
        200: {"description": "The changed claim.", "headers": {"ETag": ETAG_HEADER}, "links": CLAIM_LINKS},
        **problems(404, 409, 410, 412, 428, write=True),
    },
    dependencies=NEEDS_KEY,
)
async def patch_claim(
    claim_id: ClaimId,
    patch: Annotated[ClaimUpdate, Body(media_type="application/merge-patch+json")],
    db: DbDep,
    caller: WriteCaller,
    if_match: IfMatch,
) -> Response:
    """A JSON merge patch (RFC 7396) of `content`, `kind`, `language`, `said_at`,
    `said_at_precision` and `topics`, applied only if `If-Match` carries the claim's current ETag
    (from `GET /v1/claims/{claim_id}`): a stale ETag gets `412` and changes nothing. Changing the
    content to another claim's by the same speakers is a `409`. The version (and ETag) change."""
    async with db.transaction() as tx:
        row = await store.lock_claim(tx, claim_id)
        if row is None:
            raise Problem(404, f"No claim with id {claim_id}.")
        if row["deleted"]:
            raise Problem(410, f"Claim {claim_id} was deleted.")
        if not if_match.strip():
            raise Problem(428, PRECONDITION_REQUIRED)
        current = await store.current_body(tx, claim_id)
        if not etag_matches(if_match, etag_for(current, row["version"]), weak=False):
            raise Problem(412, "The claim changed since you read it; read it again and reapply your change.")
        changes = patch.changes()
        if not changes:
            return _written(current, row["version"])
        try:
            await store.update_claim(tx, claim_id, changes, row["said_at"])
        except store.ClaimConflict as exc:
            raise Problem(409, f"Claim {exc.other_id} already has these speakers and this content.") from exc
        except store.ClaimInvalid as exc:
            raise field_problem("body." + exc.field, exc.message) from exc
        body = await store.current_body(tx, claim_id)
    return _written(body, row["version"] + 1)


def _written(body: bytes, version: int) -> Response:
    return Response(body, media_type=JSON, headers={"ETag": etag_for(body, version), "Cache-Control": NO_STORE})


@router.delete(
    "/{claim_id}",
    operation_id="deleteClaim",
    summary="Delete a claim",
    status_code=204,
    responses={204: {"description": "Deleted (also when it already was)."}, **problems(404, 412, write=True)},
    dependencies=NEEDS_KEY,
)
async def delete_claim(
    claim_id: ClaimId,
    db: DbDep,
    caller: AdminCaller,
    reason: Annotated[
        str | None,
        Query(
            description="Why it is deleted (kept in the deletion record).",
            examples=["duplicate"],
            max_length=1000,
            pattern=r"^[^\x00]*$",
        ),
    ] = None,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="Optional: delete only if the claim still has this ETag.",
            examples=['"1-5d41402abc4b2a76"'],
        ),
    ] = None,
) -> Response:
    """Deletes the claim for every reader (`GET` then answers `410 Gone`); the deletion is recorded
    with the API key and `reason`, not erased. Needs the `admin` scope. Deleting a deleted claim
    again succeeds (`204`): deletes are idempotent."""
    async with db.transaction() as tx:
        row = await store.lock_claim(tx, claim_id)
        if row is None:
            raise Problem(404, f"No claim with id {claim_id}.")
        if not row["deleted"]:
            if if_match and not etag_matches(
                if_match, etag_for(await store.current_body(tx, claim_id), row["version"]), weak=False
            ):
                raise Problem(412, "The claim changed since you read it.")
            await store.delete_claim(tx, claim_id, caller.key_id, reason)
    return Response(status_code=204, headers={"Cache-Control": NO_STORE})
