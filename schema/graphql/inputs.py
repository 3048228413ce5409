"""Typed inputs of the write mutations, mirroring the REST models of schema/documents.py.

GraphQL checks what its type system can say: required fields, enums, integers, lists. Everything
else (lengths, URL and language formats, dates, "a url or a title", spans) is checked by the very
pydantic models REST validates with: `validated` turns an input into plain data with REST's
snake_case names and hands it to the model, so each rule is written once. Its problems come back
with GraphQL's names (``["input", "document", "claims", "0", "saidAt"]``).

Dates are ``String``: a bare date (``2025-11-25``) means day precision and a date-time an instant,
a distinction the ``DateTime`` scalar (which turns dates into midnight) would lose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from enum import Enum
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from pydantic import BaseModel, ValidationError

from schema.graphql.scalars import from_global_id
from schema.graphql.types import ClaimKind, ClaimRelationKind, DatePrecision, EntityKind, SourceKind, SpeakerRole

MAX_PROBLEMS = 50
Model = TypeVar("Model", bound=BaseModel)

ISO_DATE = "ISO 8601 date (day precision) or date-time with offset (an instant)"


class InputProblems(Exception):
    """Input that the model refuses: (path, message) pairs, paths in GraphQL's names."""

    def __init__(self, problems: list[tuple[list[str], str]]) -> None:
        super().__init__(problems[0][1] if problems else "invalid input")
        self.problems = problems


def camel(name: str) -> str:
    """``"said_at_precision"`` → ``"saidAtPrecision"`` (GraphQL's names for typed input fields)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# -- the input types -----------------------------------------------------------------------------


@strawberry.input(description="An external identifier of an entity, as `Entity.externalIds` lists them.")
class ExternalIdInput:
    scheme: str = strawberry.field(description="Lower-case scheme name, e.g. `wikidata`")
    value: str = strawberry.field(description="The id in that scheme, e.g. `Q2514`")


@strawberry.input(description="An office an entity holds or held.")
class RoleInput:
    title: str = strawberry.field(description="e.g. `Chancellor of Germany`")
    start: str | None = strawberry.field(default=None, description="ISO 8601 date")
    end: str | None = strawberry.field(default=None, description="ISO 8601 date; not before `start`")


@strawberry.input(
    description="An entity by id, by external id, or by name or alias (created when nothing matches): "
    '`{id: …}`, `{externalIds: [{scheme: "wikidata", value: "Q2514"}]}` or `{name: "Friedrich Merz", kind: PERSON}`.'
)
class EntityRefInput:
    id: strawberry.ID | None = strawberry.field(default=None, description="An existing entity's global id")
    name: str | None = strawberry.field(default=None, description="Canonical name, or an alias to find it by")
    kind: EntityKind | None = strawberry.field(default=None, description="What sort of entity; set when it is created")
    aliases: list[str] = strawberry.field(default_factory=list, description="Other names (at most 50)")
    external_ids: list[ExternalIdInput] = strawberry.field(default_factory=list, description="At most 10")
    description: str | None = strawberry.field(default=None, description="A short description, when it is created")
    roles: list[RoleInput] = strawberry.field(default_factory=list, description="Offices it holds or held")


@strawberry.input(
    description="A source that is cited or reported: found again by URL, else by kind, title, publisher, date."
)
class SourceRefInput:
    kind: SourceKind = strawberry.field(description="What sort of document it is")
    title: str | None = strawberry.field(default=None, description="Needed when there is no `url`")
    url: str | None = strawberry.field(default=None, description="http(s); identifies the source when given")
    publisher: EntityRefInput | None = strawberry.field(default=None, description="Who published it (the reporter)")
    authors: list[EntityRefInput] = strawberry.field(default_factory=list, description="Who wrote it")
    published_at: str | None = strawberry.field(default=None, description=ISO_DATE)
    language: str | None = strawberry.field(default=None, description="BCP 47, e.g. `en`")


@strawberry.input(description="The source of a document; may carry its full text, against which spans are checked.")
class SourceInput(SourceRefInput):
    text: str | None = strawberry.field(default=None, description="The document's full text")


@strawberry.input(description="Who said a claim, and in what capacity.")
class SpeakerInput:
    entity: EntityRefInput = strawberry.field(description="The speaking entity")
    role: SpeakerRole = strawberry.field(default=SpeakerRole.SPEAKER, description="In what capacity it speaks")


@strawberry.input(description="How the claim is printed in its source: the exact quote, where, and whom it credits.")
class AppearanceInput:
    quote: str = strawberry.field(description="The claim exactly as printed in the source")
    span: list[int] | None = strawberry.field(
        default=None, description="`[start, end)` character offsets of the quote in the source's `text`"
    )
    cited_source: SourceRefInput | None = strawberry.field(
        default=None, description="The source the reporter attributes the claim to"
    )


@strawberry.input(description="A link to another claim: `claimId`, or `claimIndex` in the same document's claims.")
class RelationInput:
    kind: ClaimRelationKind = strawberry.field(description="How this claim relates to the other")
    claim_id: strawberry.ID | None = strawberry.field(default=None, description="An existing claim's global id")
    claim_index: int | None = strawberry.field(default=None, description="Position in this document's `claims`")


@strawberry.input(description="One claim as its source reports it.")
class ClaimInput:
    content: str = strawberry.field(description="What was said")
    kind: ClaimKind = strawberry.field(
        default=ClaimKind.DIRECT_QUOTE, description="How closely `content` follows the speaker's words"
    )
    language: str | None = strawberry.field(default=None, description="BCP 47, e.g. `en`")
    said_at: str | None = strawberry.field(default=None, description=ISO_DATE)
    said_at_precision: DatePrecision | None = strawberry.field(
        default=None, description="Defaults to DAY for a date, INSTANT for a date-time"
    )
    location: EntityRefInput | None = strawberry.field(default=None, description="Where it was said")
    speakers: list[SpeakerInput] = strawberry.field(description="At least one")
    mentions: list[EntityRefInput] = strawberry.field(default_factory=list, description="Entities it is about")
    topics: list[str] = strawberry.field(default_factory=list, description="Topic slugs, e.g. `ukraine-crisis`")
    appearance: AppearanceInput | None = strawberry.field(
        default=None, description="Defaults to the content quoted verbatim"
    )
    relations: list[RelationInput] = strawberry.field(default_factory=list, description="Links to other claims")


@strawberry.input(description="A topic's display name for a slug the claims use.")
class TopicInput:
    slug: str = strawberry.field(description="e.g. `ukraine-crisis`")
    name: str = strawberry.field(description="e.g. `Ukraine crisis`")


@strawberry.input(description="A source with its claims, speakers, appearances and mentions (REST's `SourceDocument`).")
class SourceDocumentInput:
    source: SourceInput = strawberry.field(description="The document")
    claims: list[ClaimInput] = strawberry.field(default_factory=list, description="At most 1000")
    topics: list[TopicInput] = strawberry.field(default_factory=list, description="Names for new topic slugs")


# -- into the REST models ------------------------------------------------------------------------

GLOBAL_IDS = {(EntityRefInput, "id"): "Entity", (RelationInput, "claim_id"): "Claim"}


class _Plain:
    """One input turned into REST's data; remembers where external ids were, for error paths."""

    def __init__(self, prefix: list[str]) -> None:
        self.prefix = prefix
        self.problems: list[tuple[list[str], str]] = []
        self.schemes: dict[tuple[str, ...], list[str]] = {}  # loc of an entity's external_ids → schemes

    def value(self, value: Any, loc: tuple[str, ...]) -> Any:
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, list):
            return [self.value(v, (*loc, str(i))) for i, v in enumerate(value)]
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return value
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is strawberry.UNSET:
                continue
            here = (*loc, f.name)
            type_name = GLOBAL_IDS.get((type(value), f.name))
            if type_name is not None and item is not None:
                out[f.name] = self.row_id(item, type_name, here)
            elif f.name == "external_ids" and isinstance(value, EntityRefInput):
                out[f.name] = self.external_ids(item, here)
            else:
                out[f.name] = self.value(item, here)
        return out

    def row_id(self, value: str, type_name: str, loc: tuple[str, ...]) -> int | None:
        try:
            return from_global_id(value, type_name, camel(loc[-1]))[1]
        except GraphQLError as exc:
            self.problems.append((self.path(loc), exc.message))
            return None

    def external_ids(self, pairs: list[ExternalIdInput], loc: tuple[str, ...]) -> dict[str, str]:
        schemes = [p.scheme for p in pairs]
        self.schemes[loc] = schemes
        for i, scheme in enumerate(schemes):
            if scheme in schemes[:i]:
                self.problems.append((self.path((*loc, str(i), "scheme")), f"{scheme!r} is given twice"))
        return {p.scheme: p.value for p in pairs}

    def path(self, loc: Sequence[str | int]) -> list[str]:
        """A model location as a path in the GraphQL input: camelCase, external ids by position."""
        out = list(self.prefix)
        parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
        i = 0
        while i < len(parts):
            out.append(camel(parts[i]))
            schemes = self.schemes.get(tuple(parts[: i + 1])) if parts[i] == "external_ids" else None
            if schemes is not None and i + 1 < len(parts) and parts[i + 1] in schemes:
                on_key = i + 2 < len(parts) and parts[i + 2] == "[key]"
                out += [str(schemes.index(parts[i + 1])), "scheme" if on_key else "value"]
                i += 3 if on_key else 2
                continue
            i += 1
        return out


def validated(model: type[Model], value: Any, prefix: list[str]) -> Model:
    """``value`` (a typed input) validated by the REST ``model``; `InputProblems` under ``prefix``."""
    plain = _Plain(prefix)
    data = plain.value(value, ())
    if plain.problems:
        raise InputProblems(plain.problems[:MAX_PROBLEMS])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [(plain.path(err.get("loc", ())), str(err.get("msg", "invalid"))) for err in exc.errors()]
        raise InputProblems(problems[:MAX_PROBLEMS]) from exc


def input_path(prefix: list[str], dotted: Sequence[str | int]) -> list[str]:
    """A store's path (``["claims", "0", "said_at"]``) under ``prefix`` in GraphQL's names."""
    return _Plain(prefix).path(dotted)
