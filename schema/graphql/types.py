"""The GraphQL object types, each field declaring beside it how it reads the store (`stored`).

There are no read resolvers: db/compile.py walks these declarations to answer a whole operation
with one SQL statement. A field that takes arguments declares them as the parameters of its
interpreter (``page_args``…), which turns them into what the compiler takes.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from db import graph
from db.compile import Window
from db.filters import ClaimFilter, Cursor, CursorError
from schema.graphql.context import Context
from schema.graphql.plan import DEFAULT_PAGE, python_name, stored
from schema.graphql.scalars import DateTime, from_global_id

MAX_PAGE = 100

Info = strawberry.Info[Context, None]


@strawberry.enum(description="How closely the content follows the speaker's words.")
class ClaimKind(Enum):
    DIRECT_QUOTE = "direct_quote"
    PARTIAL_QUOTE = "partial_quote"
    PARAPHRASE = "paraphrase"


@strawberry.enum(
    description="Where a claim is in review: CURATED (written by hand or imported), or an extracted "
    "claim's UNREVIEWED, CONFIRMED, EDITED or REJECTED."
)
class ReviewState(Enum):
    CURATED = "curated"
    UNREVIEWED = "unreviewed"
    CONFIRMED = "confirmed"
    EDITED = "edited"
    REJECTED = "rejected"


@strawberry.enum(description="How precisely `saidAt` is known.")
class DatePrecision(Enum):
    INSTANT = "instant"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"
    UNKNOWN = "unknown"


@strawberry.enum(description="In what capacity an entity is a claim's speaker.")
class SpeakerRole(Enum):
    SPEAKER = "speaker"
    CO_SIGNATORY = "co_signatory"
    ON_BEHALF_OF = "on_behalf_of"


@strawberry.enum
class EntityKind(Enum):
    PERSON = "person"
    ORGANIZATION = "organization"
    GROUP = "group"
    PLACE = "place"
    EVENT = "event"
    OTHER = "other"


@strawberry.enum
class SourceKind(Enum):
    NEWS_ARTICLE = "news_article"
    STATEMENT = "statement"
    TRANSCRIPT = "transcript"
    SOCIAL_POST = "social_post"
    PRESS_RELEASE = "press_release"
    FACT_CHECK = "fact_check"
    OTHER = "other"


@strawberry.enum(description="How one claim relates to another.")
class ClaimRelationKind(Enum):
    REPEATS = "repeats"
    SUPPORTS = "supports"
    CONTRADICTS = "contradicts"
    RESPONDS_TO = "responds_to"


@strawberry.enum(description="Orderings of a claims list.")
class ClaimOrder(Enum):
    SAID_AT_DESC = "-said_at"
    SAID_AT_ASC = "said_at"
    REPORTED_AT_DESC = "-reported_at"
    RELEVANCE = "relevance"


@strawberry.input(
    name="ClaimFilter",
    description="Which claims: criteria are AND-ed, the values inside one criterion OR-ed.",
)
class ClaimFilterInput:
    speakers: list[strawberry.ID] | None = strawberry.field(default=None, description="Entity ids")
    mentions: list[strawberry.ID] | None = strawberry.field(default=None, description="Entity ids")
    topics: list[str] | None = strawberry.field(default=None, description="Topic slugs")
    sources: list[strawberry.ID] | None = strawberry.field(default=None, description="Source ids")
    reported_by: list[strawberry.ID] | None = strawberry.field(default=None, description="Publisher entity ids")
    said_after: DateTime | None = strawberry.field(default=None, description="Inclusive")
    said_before: DateTime | None = strawberry.field(default=None, description="Exclusive")
    reported_after: DateTime | None = strawberry.field(default=None, description="Inclusive")
    reported_before: DateTime | None = strawberry.field(default=None, description="Exclusive")
    kind: list[ClaimKind] | None = None
    language: list[str] | None = None
    review_state: list[ReviewState] | None = strawberry.field(
        default=None, description="Review states; UNREVIEWED is the queue of extracted claims"
    )
    search: str | None = strawberry.field(default=None, description="Full-text search over the content")


def check_text(name: str, value: str, limit: int) -> str:
    """A text argument as given, or a GraphQLError naming it (too long, or holding NUL, which
    PostgreSQL text cannot)."""
    if len(value) > limit:
        raise GraphQLError(f"{name}: at most {limit} characters")
    if "\x00" in value:
        raise GraphQLError(f"{name}: must not contain NUL characters")
    return value


def claim_filter(given: ClaimFilterInput | dict[str, Any] | None) -> ClaimFilter:
    """The GraphQL filter (as coerced: a dict by GraphQL names) as the db layer's `ClaimFilter`; bad
    ids raise a GraphQLError naming the field."""
    if given is None:
        return ClaimFilter()
    value = ClaimFilterInput(**{python_name(k): v for k, v in given.items()}) if isinstance(given, dict) else given

    def ids(values: list[strawberry.ID] | None, type_name: str, name: str) -> tuple[int, ...]:
        return tuple(from_global_id(v, type_name, f"filter.{name}")[1] for v in values or [])

    for name, items in [("topics", value.topics), ("language", value.language)]:
        for item in items or ():
            check_text(f"filter.{name}", item, 100)
    if value.search is not None:
        check_text("filter.search", value.search, 500)
    return ClaimFilter(
        speakers=ids(value.speakers, "Entity", "speakers"),
        mentions=ids(value.mentions, "Entity", "mentions"),
        topics=tuple(value.topics or ()),
        sources=ids(value.sources, "Source", "sources"),
        reported_by=ids(value.reported_by, "Entity", "reportedBy"),
        said_after=value.said_after,
        said_before=value.said_before,
        reported_after=value.reported_after,
        reported_before=value.reported_before,
        kinds=tuple(k.value for k in value.kind or ()),
        languages=tuple(value.language or ()),
        review_states=tuple(r.value for r in value.review_state or ()),
        q=value.search or None,
    )


def page_window(first: int | None, after: str | None, last: int | None, before: str | None, sort: str) -> Window:
    """The page Relay arguments ask for; sizes are 1–100, ``first`` and ``last`` exclusive."""
    if first is not None and last is not None:
        raise GraphQLError("give either first or last, not both")
    if after is not None and before is not None:
        raise GraphQLError("give either after or before, not both")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 1 <= size <= MAX_PAGE:
            raise GraphQLError(f"{name} must be between 1 and {MAX_PAGE}")
    backward = last is not None or (before is not None and first is None)
    chosen = last if backward else first
    size = chosen if chosen is not None else DEFAULT_PAGE
    raw = before if backward else after
    if backward and after is not None:
        raise GraphQLError("after cannot be combined with last")
    if not backward and before is not None:
        raise GraphQLError("before cannot be combined with first")
    try:
        cursor = Cursor.decode(raw, sort) if raw is not None else None
    except CursorError as exc:
        raise GraphQLError(f"{'before' if backward else 'after'}: {exc}") from exc
    return Window(size, cursor, backward)


def claim_page(
    filter: ClaimFilterInput | None = None,
    order_by: ClaimOrder = ClaimOrder.SAID_AT_DESC,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """A filtered, ordered page of claims: the arguments of `Query.claims` and `Entity.claims`."""
    f = claim_filter(filter)
    sort = order_by.value
    if sort == "relevance" and not f.q:
        raise GraphQLError("orderBy: RELEVANCE needs filter.search")
    return {"filter": f, "sort": sort, "window": page_window(first, after, last, before, sort)}


def newest_claims(
    first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None
) -> dict[str, Any]:
    """A page of claims, newest said first: the arguments of the other claim connections."""
    return {"window": page_window(first, after, last, before, "-said_at")}


@strawberry.interface(description="An object with a global id (Relay).")
class Node:
    id: strawberry.ID

    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        """Objects read compiled are their JSON (a dict, resolved by `schema.graphql.reads`)."""
        return isinstance(obj, cls | dict)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class ClaimEdge:
    cursor: str
    node: Claim


@strawberry.type(description="A page of claims, in keyset order.")
class ClaimConnection:
    edges: list[ClaimEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Every claim matching the filter (counted only when asked for).")


@strawberry.type
class Span:
    start: int = stored(graph.Column("span_start"))
    end: int = stored(graph.Column("span_end"))


@strawberry.type
class ExternalId:
    scheme: str = stored(graph.Column("scheme"), description="e.g. `wikidata`")
    value: str = stored(graph.Column("value"), description="e.g. `Q2514`")


@strawberry.type(description="An office an entity holds or held.")
class EntityRole(Node):
    id: strawberry.ID = stored(graph.GlobalId("EntityRole"))
    title: str = stored(graph.Column("title"))
    start_date: date | None = stored(graph.Column("start_date"))
    end_date: date | None = stored(graph.Column("end_date"))


@strawberry.type(description="A speaker of a claim, in a role.")
class ClaimSpeaker:
    role: SpeakerRole = stored(graph.Column("role", "enum"))
    position: int = stored(graph.Column("position"))
    entity: Entity = stored(graph.One("entity_id", graph.ENTITY))


@strawberry.type(description="A claim as printed in one source.")
class Appearance(Node):
    id: strawberry.ID = stored(graph.GlobalId("Appearance"))
    quote: str = stored(graph.Column("quote_json", "json"), description="The exact text as printed")
    span: Span | None = stored(
        graph.Inline(null_when="span_start"), description="[start, end) character offsets in the source's text"
    )
    source: Source = stored(graph.One("source_id", graph.SOURCE))
    cited_source: Source | None = stored(
        graph.One("cited_source_id", graph.SOURCE), description="The source the reporter attributed the claim to."
    )


@strawberry.type
class RelatedClaim:
    kind: ClaimRelationKind = stored(graph.Column("kind", "enum"))
    claim: Claim = stored(graph.One("related_claim_id", graph.CLAIM))


@strawberry.type(description="A topic claims are about.")
class Topic(Node):
    id: strawberry.ID = stored(graph.GlobalId("Topic"))
    slug: str = stored(graph.Column("slug"))
    name: str = stored(graph.Column("name"))
    claims: ClaimConnection = stored(graph.ClaimPage("topic"), newest_claims)


@strawberry.type(description="What was said: one claim, however many outlets printed it.")
class Claim(Node):
    id: strawberry.ID = stored(graph.GlobalId("Claim"))
    database_id: int = stored(graph.Column("id"))
    content: str = stored(graph.Column("content_json", "json"))
    kind: ClaimKind = stored(graph.Column("kind", "enum"))
    language: str | None = stored(graph.Column("language"))
    said_at: DateTime | None = stored(graph.Column("said_at"))
    said_at_precision: DatePrecision = stored(graph.Column("said_at_precision", "enum"))
    first_reported_at: DateTime | None = stored(
        graph.Column("first_reported_at"), description="When the earliest source printing it appeared"
    )
    speakers: list[ClaimSpeaker] = stored(graph.SPEAKERS)
    appearances: list[Appearance] = stored(graph.APPEARANCES)
    location: Entity | None = stored(graph.One("location_id", graph.ENTITY), description="Where it was said.")
    mentions: list[Entity] = stored(graph.MENTIONS, description="Entities the claim is about.")
    topics: list[Topic] = stored(graph.CLAIM_TOPICS)
    related_claims: list[RelatedClaim] = stored(graph.RELATED)


@strawberry.type(description="A person, organisation, group, place or event.")
class Entity(Node):
    id: strawberry.ID = stored(graph.GlobalId("Entity"))
    database_id: int = stored(graph.Column("id"))
    kind: EntityKind = stored(graph.Column("kind", "enum"))
    name: str = stored(graph.Column("name_json", "json"))
    description: str | None = stored(graph.Column("description"))
    aliases: list[str] = stored(graph.ALIASES)
    external_ids: list[ExternalId] = stored(graph.EXTERNAL_IDS)
    roles: list[EntityRole] = stored(graph.ROLES)
    claims: ClaimConnection = stored(graph.ClaimPage("speaker"), claim_page, "Claims this entity made.")
    mentioned_in: ClaimConnection = stored(graph.ClaimPage("mention"), newest_claims, "Claims about this entity.")


@strawberry.type(description="A document: article, statement, transcript, post, release or fact check.")
class Source(Node):
    id: strawberry.ID = stored(graph.GlobalId("Source"))
    database_id: int = stored(graph.Column("id"))
    kind: SourceKind = stored(graph.Column("kind", "enum"))
    title: str | None = stored(graph.Column("title_json", "json"))
    url: str | None = stored(graph.Column("url_json", "json"))
    published_at: DateTime | None = stored(graph.Column("published_at"))
    language: str | None = stored(graph.Column("language"))
    publisher: Entity | None = stored(
        graph.One("publisher_id", graph.ENTITY), description="Who published it: the reporter."
    )
    authors: list[Entity] = stored(graph.AUTHORS)
    claims: ClaimConnection = stored(graph.ClaimPage("source"), newest_claims, "Claims this source prints.")
    cites: list[Source] = stored(graph.CITES, description="Sources this one attributes its claims to.")


SearchResult = Annotated[Claim | Entity, strawberry.union("SearchResult")]
