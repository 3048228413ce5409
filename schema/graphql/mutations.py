"""GraphQL mutations: the same writes as REST, over the same db/ functions.

Input problems never raise: each payload carries ``userErrors { field message code }`` and nothing
is written (``field`` is the path from the mutation's arguments, as Shopify spells it:
``["input", "document", "claims", "0", "content"]``). Authentication and authorisation problems
are top-level GraphQL errors with ``extensions.code`` ``UNAUTHENTICATED`` or ``FORBIDDEN``.
Scopes: ``write`` for importSource, createClaim and updateClaim; ``admin`` for deleteClaim and
mergeEntities.
"""

from __future__ import annotations

import dataclasses
import re
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from pydantic import ValidationError

from db import claims as claim_store
from db import entities as entity_store
from db import sources as source_store
from db.documents import DocumentError, WriteResult, write_source_document
from db.mutations import claim_version
from schema.claims import ClaimUpdate
from schema.documents import AppearanceIn, ClaimIn, SourceDocument, SourceIn, SourceRef
from schema.graphql.context import reader
from schema.graphql.inputs import (
    ISO_DATE,
    ClaimInput,
    InputProblems,
    SourceDocumentInput,
    SourceRefInput,
    camel,
    input_path,
)
from schema.graphql.inputs import validated as validated_input
from schema.graphql.scalars import from_global_id, to_global_id
from schema.graphql.types import Claim, ClaimKind, DatePrecision, Entity, Info, Source

MAX_USER_ERRORS = 50
MAX_REASON = 1000


@strawberry.enum(description="What kind of input problem a `UserError` is.")
class UserErrorCode(Enum):
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    DELETED = "deleted"
    STALE = "stale"
    CONFLICT = "conflict"
    CONSTRAINT = "constraint"


@strawberry.type(description="A problem with a mutation's input; nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path of the offending input from the mutation\'s arguments, e.g. `["input", "id"]`; '
        "null when no single field is at fault."
    )
    message: str
    code: UserErrorCode


class Rejected(Exception):
    """Input problems found part-way through a write: the transaction rolls back."""

    def __init__(self, *errors: UserError) -> None:
        super().__init__(errors[0].message if errors else "rejected")
        self.errors = list(errors)


def user_error(field: list[str] | None, message: str, code: UserErrorCode = UserErrorCode.INVALID) -> UserError:
    return UserError(field=field, message=message, code=code)


# -- paths -----------------------------------------------------------------------------------


def path_of(dotted: str) -> list[str]:
    """``"claims[0].speakers[1].entity"`` → ``["claims", "0", "speakers", "1", "entity"]``."""
    return re.findall(r"[^.\[\]]+", dotted)


def validation_errors(exc: ValidationError, prefix: list[str]) -> list[UserError]:
    """pydantic's errors as user errors under ``prefix`` in GraphQL's names, without echoing the input."""
    return [user_error(input_path(prefix, err.get("loc", ())), err["msg"]) for err in exc.errors()][:MAX_USER_ERRORS]


def validated(model: type[Any], value: Any, prefix: list[str]) -> Any:
    """A typed input validated by its REST model; else `Rejected` with the problems under ``prefix``."""
    try:
        return validated_input(model, value, prefix)
    except InputProblems as exc:
        raise Rejected(*[user_error(path, message) for path, message in exc.problems]) from exc


def document_error(exc: DocumentError, prefix: list[str]) -> UserError:
    """A store refusal as a user error; the store's codes are `UserErrorCode` values."""
    try:
        code = UserErrorCode(exc.code)
    except ValueError:
        code = UserErrorCode.INVALID
    return user_error(input_path(prefix, path_of(exc.field)), exc.message, code)


def row_id(value: str, type_name: str, field: list[str]) -> int:
    """The row id of a global id of ``type_name`` (a plain number also works); else `Rejected`."""
    try:
        return from_global_id(value, type_name, ".".join(field))[1]
    except GraphQLError as exc:
        raise Rejected(user_error(field, exc.message)) from exc


# -- authorisation -----------------------------------------------------------------------------


def _auth_error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


async def authorize(info: Info, scope: str) -> Any:
    """The caller, if it holds ``scope``; else a top-level UNAUTHENTICATED / FORBIDDEN error.

    The API layer identifies the caller (its key) before any resolver runs and puts it in the
    context; a context without one may not write.
    """
    caller = info.context.caller
    if caller is not None and scope in caller.scopes:
        return caller
    if caller is None or caller.key_id is None:
        raise _auth_error(
            "UNAUTHENTICATED", f"This mutation needs an API key with the `{scope}` scope (header X-API-Key)."
        )
    raise _auth_error("FORBIDDEN", f"This API key lacks the `{scope}` scope this mutation needs.")


async def read(info: Info, payload: str, ids: dict[str, Any]) -> dict[str, Any]:
    """The payload's object fields named in ``ids`` (field → row id or ids), read after the write as
    selected — one compiled statement — by response key."""
    return await reader(info.context).read_fields(info.context.db, info, payload, ids)


def compiled(root: Any, info: Info) -> Any:
    """A payload's object field: what `read` read for its response key."""
    return root.reads.get(info.path.key)


# -- importSource ------------------------------------------------------------------------------


@strawberry.input(description="A source document to write.")
class ImportSourceInput:
    document: SourceDocumentInput = strawberry.field(
        description="The source with its claims, as `POST /v1/sources` takes it: "
        "`{source: {kind: NEWS_ARTICLE, url: …, publisher: {name: …}}, "
        "claims: [{content: …, speakers: [{entity: {name: …}}]}]}`."
    )


@strawberry.type
class ImportSourcePayload:
    source: Source | None = strawberry.field(resolver=compiled)
    claims: list[Claim] | None = strawberry.field(resolver=compiled)
    created: bool = strawberry.field(default=False, description="Whether anything was new.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    reads: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)


async def _written(info: Info, result: WriteResult) -> ImportSourcePayload:
    ids = {"source": result.source_id, "claims": [c.id for c in result.claims]}
    return ImportSourcePayload(created=result.changed, reads=await read(info, "ImportSourcePayload", ids))


# -- createClaim -------------------------------------------------------------------------------


@strawberry.input(description="One claim and the source reporting it: `sourceId` or `source`, not both.")
class CreateClaimInput:
    claim: ClaimInput = strawberry.field(
        description="The claim as in a source document; its `appearance` defaults to its content quoted verbatim."
    )
    source_id: strawberry.ID | None = strawberry.field(default=None, description="An existing source")
    source: SourceRefInput | None = strawberry.field(
        default=None, description="A source reference: `kind`, `url` or `title`, `publisher`, `publishedAt`…"
    )


@strawberry.type
class CreateClaimPayload:
    claim: Claim | None = strawberry.field(resolver=compiled)
    version: int | None = strawberry.field(default=None, description="For `updateClaim(expectedVersion:)`.")
    created: bool = strawberry.field(default=False, description="Whether the claim or its appearance was new.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    reads: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)


async def _source_of(info: Info, data: CreateClaimInput) -> SourceIn:
    if (data.source_id is None) == (data.source is None):
        raise Rejected(user_error(["input"], "give exactly one of sourceId or source"))
    if data.source_id is not None:
        field = ["input", "sourceId"]
        try:
            found = await source_store.source_ref(info.context.db, row_id(data.source_id, "Source", field))
        except source_store.SourceNotReferable as exc:
            raise Rejected(user_error(field, str(exc), UserErrorCode.CONFLICT)) from exc
        if found is None:
            raise Rejected(user_error(field, f"no source with id {data.source_id}", UserErrorCode.NOT_FOUND))
        return found
    ref = validated(SourceRef, data.source, ["input", "source"])
    return SourceIn.model_validate(ref.model_dump(exclude_unset=True))


def _claim_path(path: list[str], by_id: bool) -> list[str]:
    """A path in the one-claim document as a path in ``CreateClaimInput``."""
    if path[:2] == ["claims", "0"]:
        return ["input", "claim", *path[2:]]
    if path[:1] == ["source"] and by_id:
        return ["input", "sourceId"]
    return ["input", *path]


async def _create_claim(info: Info, data: CreateClaimInput) -> CreateClaimPayload:
    source = await _source_of(info, data)
    claim = validated(ClaimIn, data.claim, ["input", "claim"])
    if claim.appearance is None:
        claim = claim.model_copy(update={"appearance": AppearanceIn(quote=claim.content)})
    by_id = data.source_id is not None
    try:
        document = SourceDocument(source=source, claims=[claim])
    except ValidationError as exc:
        errors = validation_errors(exc, [])
        raise Rejected(*[user_error(_claim_path(e.field or [], by_id), e.message) for e in errors]) from exc
    try:
        result = await write_source_document(info.context.db, document)
    except DocumentError as exc:
        error = document_error(exc, [])
        raise Rejected(user_error(_claim_path(error.field or [], by_id), error.message, error.code)) from exc
    claim_id = result.claims[0].id
    return CreateClaimPayload(
        version=await claim_version(info.context.db, claim_id),
        created=result.changed,
        reads=await read(info, "CreateClaimPayload", {"claim": claim_id}),
    )


# -- updateClaim -------------------------------------------------------------------------------


@strawberry.input(description="Fields to change on a claim; fields left out keep their value, null clears.")
class UpdateClaimInput:
    id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=None,
        description="The version you last read (from createClaim/updateClaim or REST's ETag): when the claim "
        "has changed since, nothing is written and the user error's code is STALE.",
    )
    content: str | None = strawberry.field(default=strawberry.UNSET, description="Changes the claim's identity")
    kind: ClaimKind | None = strawberry.UNSET
    language: str | None = strawberry.field(default=strawberry.UNSET, description="BCP 47; null clears")
    said_at: str | None = strawberry.field(default=strawberry.UNSET, description=f"{ISO_DATE}; null clears")
    said_at_precision: DatePrecision | None = strawberry.UNSET
    topics: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Topic slugs, replacing the current ones; null clears"
    )


@strawberry.type
class UpdateClaimPayload:
    claim: Claim | None = strawberry.field(resolver=compiled)
    version: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    reads: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)


PATCHABLE = ("content", "kind", "language", "said_at", "said_at_precision", "topics")


def _patch(data: UpdateClaimInput) -> ClaimUpdate:
    sent: dict[str, Any] = {}
    for name in PATCHABLE:
        value = getattr(data, name)
        if value is strawberry.UNSET:
            continue
        sent[name] = value.value if isinstance(value, Enum) else value
    try:
        return ClaimUpdate.model_validate(sent)
    except ValidationError as exc:
        raise Rejected(*validation_errors(exc, ["input"])) from exc


async def _update_claim(info: Info, data: UpdateClaimInput) -> UpdateClaimPayload:
    claim_id = row_id(data.id, "Claim", ["input", "id"])
    changes = _patch(data).changes()
    async with info.context.db.transaction() as tx:
        row = await claim_store.lock_claim(tx, claim_id)
        if row is None:
            raise Rejected(user_error(["input", "id"], f"no claim with id {data.id}", UserErrorCode.NOT_FOUND))
        if row["deleted"]:
            raise Rejected(user_error(["input", "id"], f"claim {data.id} was deleted", UserErrorCode.DELETED))
        if data.expected_version is not None and data.expected_version != row["version"]:
            message = f"the claim is at version {row['version']}, not {data.expected_version}; read it again"
            raise Rejected(user_error(["input", "expectedVersion"], message, UserErrorCode.STALE))
        if changes:
            try:
                await claim_store.update_claim(tx, claim_id, changes, row["said_at"])
            except claim_store.ClaimConflict as exc:
                message = f"claim {to_global_id('Claim', exc.other_id)} already has these speakers and this content"
                raise Rejected(user_error(["input", "content"], message, UserErrorCode.CONFLICT)) from exc
            except claim_store.ClaimInvalid as exc:
                raise Rejected(user_error(["input", camel(exc.field)], exc.message)) from exc
    return UpdateClaimPayload(
        version=int(row["version"]) + (1 if changes else 0),
        reads=await read(info, "UpdateClaimPayload", {"claim": claim_id}),
    )


# -- deleteClaim -------------------------------------------------------------------------------


@strawberry.input
class DeleteClaimInput:
    id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description="Kept in the deletion record")


@strawberry.type
class DeleteClaimPayload:
    deleted_claim_id: strawberry.ID | None = strawberry.field(
        default=None, description="Also set when the claim had been deleted already (deletes are idempotent)."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _delete_claim(info: Info, data: DeleteClaimInput, caller: Any) -> DeleteClaimPayload:
    claim_id = row_id(data.id, "Claim", ["input", "id"])
    if data.reason is not None and (len(data.reason) > MAX_REASON or "\x00" in data.reason):
        raise Rejected(user_error(["input", "reason"], f"at most {MAX_REASON} characters, without NUL"))
    async with info.context.db.transaction() as tx:
        row = await claim_store.lock_claim(tx, claim_id)
        if row is None:
            raise Rejected(user_error(["input", "id"], f"no claim with id {data.id}", UserErrorCode.NOT_FOUND))
        if not row["deleted"]:
            key_id = getattr(caller, "key_id", None)
            await claim_store.delete_claim(tx, claim_id, key_id, data.reason)
    return DeleteClaimPayload(deleted_claim_id=to_global_id("Claim", claim_id))


# -- mergeEntities -----------------------------------------------------------------------------


@strawberry.input(description="Fold a duplicate entity (`sourceId`) into the one that stays (`targetId`).")
class MergeEntitiesInput:
    source_id: strawberry.ID = strawberry.field(description="The duplicate; it stops existing on its own")
    target_id: strawberry.ID = strawberry.field(description="The survivor")


@strawberry.type
class MergeEntitiesPayload:
    entity: Entity | None = strawberry.field(
        resolver=compiled, description="The survivor, now with the duplicate's aliases, ids, roles and claims."
    )
    merged_entity_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    reads: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)


def _merge_error(exc: entity_store.MergeRefused) -> UserError:
    """A refused merge as a user error on ``sourceId`` (the duplicate) or ``targetId`` (the survivor)."""
    if isinstance(exc, entity_store.EntityNotFound):
        field = "targetId" if exc.survivor else "sourceId"
        return user_error(["input", field], str(exc), UserErrorCode.NOT_FOUND)
    if isinstance(exc, entity_store.AlreadyMerged):
        return user_error(["input", "sourceId"], str(exc), UserErrorCode.CONFLICT)
    return user_error(["input", "targetId"], str(exc))


async def _merge_entities(info: Info, data: MergeEntitiesInput) -> MergeEntitiesPayload:
    duplicate = row_id(data.source_id, "Entity", ["input", "sourceId"])
    into = row_id(data.target_id, "Entity", ["input", "targetId"])
    try:
        survivor = await entity_store.merge_entity(info.context.db, duplicate, into)
    except entity_store.MergeRefused as exc:
        raise Rejected(_merge_error(exc)) from exc
    return MergeEntitiesPayload(
        merged_entity_id=to_global_id("Entity", duplicate),
        reads=await read(info, "MergeEntitiesPayload", {"entity": survivor}),
    )


# -- the Mutation type ---------------------------------------------------------------------------


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Write a source document: the source, its claims, speakers, appearances, mentions and topics, "
        "in one transaction. The same document again changes nothing (`created: false`). Needs `write`."
    )
    async def import_source(self, info: Info, input: ImportSourceInput) -> ImportSourcePayload | None:
        await authorize(info, "write")
        try:
            document = validated(SourceDocument, input.document, ["input", "document"])
        except Rejected as exc:
            return ImportSourcePayload(user_errors=exc.errors)
        try:
            result = await write_source_document(info.context.db, document)
        except DocumentError as exc:
            return ImportSourcePayload(user_errors=[document_error(exc, ["input", "document"])])
        return await _written(info, result)

    @strawberry.mutation(
        description="Add one claim reported by a source; the same quote by the same speakers is the same claim, "
        "so reporting it from another source adds an appearance. Needs `write`."
    )
    async def create_claim(self, info: Info, input: CreateClaimInput) -> CreateClaimPayload | None:
        await authorize(info, "write")
        try:
            return await _create_claim(info, input)
        except Rejected as exc:
            return CreateClaimPayload(user_errors=exc.errors)

    @strawberry.mutation(description="Change a claim's content, kind, language, date or topics. Needs `write`.")
    async def update_claim(self, info: Info, input: UpdateClaimInput) -> UpdateClaimPayload | None:
        await authorize(info, "write")
        try:
            return await _update_claim(info, input)
        except Rejected as exc:
            return UpdateClaimPayload(user_errors=exc.errors)

    @strawberry.mutation(
        description="Delete a claim for every reader; the deletion is recorded with the key and reason. Needs `admin`."
    )
    async def delete_claim(self, info: Info, input: DeleteClaimInput) -> DeleteClaimPayload | None:
        caller = await authorize(info, "admin")
        try:
            return await _delete_claim(info, input, caller)
        except Rejected as exc:
            return DeleteClaimPayload(user_errors=exc.errors)

    @strawberry.mutation(
        description="Merge a duplicate entity into another: aliases, external ids, roles, claims, mentions and "
        "publications move to the survivor. Needs `admin`."
    )
    async def merge_entities(self, info: Info, input: MergeEntitiesInput) -> MergeEntitiesPayload | None:
        await authorize(info, "admin")
        try:
            return await _merge_entities(info, input)
        except Rejected as exc:
            return MergeEntitiesPayload(user_errors=exc.errors)
