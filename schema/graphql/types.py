"""The GraphQL object types. Their resolvers are the *ordinary* path (DataLoaders, one statement per
level); queries normally run compiled to one SQL statement instead (db/compile.py), and the tests
hold both paths to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import Enum
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from db import graph
from db.filters import ClaimFilter, Cursor, CursorError, Sort
from schema.graphql.context import Context
from schema.graphql.scalars import DateTime, from_global_id, to_global_id

MAX_PAGE = 100
DEFAULT_PAGE = 20

Info = strawberry.Info[Context, None]


@strawberry.enum(description="How closely the content follows the speaker's words.")
class ClaimKind(Enum):
    DIRECT_QUOTE = "direct_quote"
    PARTIAL_QUOTE = "partial_quote"
    PARAPHRASE = "paraphrase"


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
    search: str | None = strawberry.field(default=None, description="Full-text search over the content")


def check_text(name: str, value: str, limit: int) -> str:
    """A text argument as given, or a GraphQLError naming it (too long, or holding NUL, which
    PostgreSQL text cannot)."""
    if len(value) > limit:
        raise GraphQLError(f"{name}: at most {limit} characters")
    if "\x00" in value:
        raise GraphQLError(f"{name}: must not contain NUL characters")
    return value


def claim_filter(value: ClaimFilterInput | None) -> ClaimFilter:
    """The GraphQL filter as the db layer's `ClaimFilter`; bad ids raise a GraphQLError naming the field."""
    if value is None:
        return ClaimFilter()

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
        q=value.search or None,
    )


def page_window(
    first: int | None, after: str | None, last: int | None, before: str | None, sort: str
) -> tuple[int, Cursor | None, bool]:
    """(size, cursor, backward) of Relay arguments; sizes are 1–100, ``first`` and ``last`` exclusive."""
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
    return size, cursor, backward


@strawberry.interface(description="An object with a global id (Relay).")
class Node:
    id: strawberry.ID


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
    _filter: strawberry.Private[ClaimFilter]
    _scope: strawberry.Private[tuple[str, int] | None]

    @strawberry.field(description="Every claim matching the filter (counted only when asked for).")
    async def total_count(self, info: Info) -> int:
        return await graph.count_claims(info.context.db, self._filter, self._scope)


async def claim_connection(
    info: Info,
    f: ClaimFilter,
    order: ClaimOrder,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    scope: tuple[str, int] | None = None,
) -> ClaimConnection:
    """A Relay connection over one keyset page."""
    sort: Sort = order.value
    if sort == "relevance" and not f.q:
        raise GraphQLError("orderBy: RELEVANCE needs filter.search")
    size, cursor, backward = page_window(first, after, last, before, sort)
    rows = await graph.claim_page(
        info.context.db, f, sort=sort, after=cursor, limit=size + 1, backward=backward, scope=scope
    )
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
    claims = await info.context.loaders.claims.load_many([r.id for r in rows])
    edges = [
        ClaimEdge(cursor=Cursor(sort, r.sort_key, r.id).encode(), node=Claim.of(c))
        for r, c in zip(rows, claims, strict=True)
        if c is not None
    ]
    page = PageInfo(
        has_next_page=more if not backward else cursor is not None,
        has_previous_page=cursor is not None if not backward else more,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return ClaimConnection(edges=edges, page_info=page, _filter=f, _scope=scope)


@strawberry.type
class Span:
    start: int
    end: int


@strawberry.type
class ExternalId:
    scheme: str = strawberry.field(description="e.g. `wikidata`")
    value: str = strawberry.field(description="e.g. `Q2514`")


@strawberry.type(description="An office an entity holds or held.")
class EntityRole(Node):
    title: str
    start_date: date | None
    end_date: date | None

    @classmethod
    def of(cls, row: graph.RoleRow) -> EntityRole:
        return cls(
            id=to_global_id("EntityRole", row.id), title=row.title, start_date=row.start_date, end_date=row.end_date
        )


@strawberry.type(description="A speaker of a claim, in a role.")
class ClaimSpeaker:
    role: SpeakerRole
    position: int
    _entity_id: strawberry.Private[int]

    @strawberry.field
    async def entity(self, info: Info) -> Entity:
        return Entity.of(await info.context.loaders.entities.load(self._entity_id))


@strawberry.type(description="A claim as printed in one source.")
class Appearance(Node):
    quote: str = strawberry.field(description="The exact text as printed")
    span: Span | None = strawberry.field(description="[start, end) character offsets in the source's text")
    _row: strawberry.Private[graph.AppearanceRow]

    @classmethod
    def of(cls, row: graph.AppearanceRow) -> Appearance:
        start, end = row.span_start, row.span_end
        span = Span(start=start, end=end) if start is not None and end is not None else None
        return cls(id=to_global_id("Appearance", row.id), quote=row.quote, span=span, _row=row)

    @strawberry.field
    async def source(self, info: Info) -> Source:
        return Source.of(await info.context.loaders.sources.load(self._row.source_id))

    @strawberry.field(description="The source the reporter attributed the claim to.")
    async def cited_source(self, info: Info) -> Source | None:
        if self._row.cited_source_id is None:
            return None
        return Source.of(await info.context.loaders.sources.load(self._row.cited_source_id))


@strawberry.type
class RelatedClaim:
    kind: ClaimRelationKind
    _claim_id: strawberry.Private[int]

    @strawberry.field
    async def claim(self, info: Info) -> Claim:
        return Claim.of(await info.context.loaders.claims.load(self._claim_id))


@strawberry.type(description="A topic claims are about.")
class Topic(Node):
    slug: str
    name: str
    _row_id: strawberry.Private[int]

    @classmethod
    def of(cls, row: graph.TopicRow) -> Topic:
        return cls(id=to_global_id("Topic", row.id), slug=row.slug, name=row.name, _row_id=row.id)

    @strawberry.field
    async def claims(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ClaimConnection:
        return await claim_connection(
            info, ClaimFilter(), ClaimOrder.SAID_AT_DESC, first, after, last, before, ("topic", self._row_id)
        )


@strawberry.type(description="What was said: one claim, however many outlets printed it.")
class Claim(Node):
    database_id: int
    content: str
    kind: ClaimKind
    language: str | None
    said_at: DateTime | None
    said_at_precision: DatePrecision
    first_reported_at: DateTime | None = strawberry.field(description="When the earliest source printing it appeared")
    _row: strawberry.Private[graph.ClaimRow]

    @classmethod
    def of(cls, row: graph.ClaimRow) -> Claim:
        return cls(
            id=to_global_id("Claim", row.id),
            database_id=row.id,
            content=row.content,
            kind=ClaimKind(row.kind),
            language=row.language,
            said_at=row.said_at,
            said_at_precision=DatePrecision(row.said_at_precision),
            first_reported_at=row.first_reported_at,
            _row=row,
        )

    @strawberry.field
    async def speakers(self, info: Info) -> list[ClaimSpeaker]:
        rows = await info.context.loaders.speakers.load(self._row.id)
        return [ClaimSpeaker(role=SpeakerRole(r.role), position=r.position, _entity_id=r.entity_id) for r in rows]

    @strawberry.field
    async def appearances(self, info: Info) -> list[Appearance]:
        return [Appearance.of(r) for r in await info.context.loaders.appearances.load(self._row.id)]

    @strawberry.field(description="Where it was said.")
    async def location(self, info: Info) -> Entity | None:
        if self._row.location_id is None:
            return None
        return Entity.of(await info.context.loaders.entities.load(self._row.location_id))

    @strawberry.field(description="Entities the claim is about.")
    async def mentions(self, info: Info) -> list[Entity]:
        ids = await info.context.loaders.mentions.load(self._row.id)
        return [Entity.of(e) for e in await info.context.loaders.entities.load_many(ids)]

    @strawberry.field
    async def topics(self, info: Info) -> list[Topic]:
        return [Topic.of(t) for t in await info.context.loaders.topics.load(self._row.id)]

    @strawberry.field
    async def related_claims(self, info: Info) -> list[RelatedClaim]:
        rows = await info.context.loaders.related.load(self._row.id)
        return [RelatedClaim(kind=ClaimRelationKind(r.kind), _claim_id=r.claim_id) for r in rows]


@strawberry.type(description="A person, organisation, group, place or event.")
class Entity(Node):
    database_id: int
    kind: EntityKind
    name: str
    description: str | None
    _row_id: strawberry.Private[int]

    @classmethod
    def of(cls, row: graph.EntityRow) -> Entity:
        return cls(
            id=to_global_id("Entity", row.id),
            database_id=row.id,
            kind=EntityKind(row.kind),
            name=row.name,
            description=row.description,
            _row_id=row.id,
        )

    @strawberry.field
    async def aliases(self, info: Info) -> list[str]:
        return list(await info.context.loaders.aliases.load(self._row_id))

    @strawberry.field
    async def external_ids(self, info: Info) -> list[ExternalId]:
        return [ExternalId(scheme=s, value=v) for s, v in await info.context.loaders.external_ids.load(self._row_id)]

    @strawberry.field
    async def roles(self, info: Info) -> list[EntityRole]:
        return [EntityRole.of(r) for r in await info.context.loaders.roles.load(self._row_id)]

    @strawberry.field(description="Claims this entity made.")
    async def claims(
        self,
        info: Info,
        filter: ClaimFilterInput | None = None,
        order_by: ClaimOrder = ClaimOrder.SAID_AT_DESC,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ClaimConnection:
        return await claim_connection(
            info, claim_filter(filter), order_by, first, after, last, before, ("speaker", self._row_id)
        )

    @strawberry.field(description="Claims about this entity.")
    async def mentioned_in(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ClaimConnection:
        return await claim_connection(
            info,
            ClaimFilter(),
            ClaimOrder.SAID_AT_DESC,
            first,
            after,
            last,
            before,
            ("mention", self._row_id),
        )


@strawberry.type(description="A document: article, statement, transcript, post, release or fact check.")
class Source(Node):
    database_id: int
    kind: SourceKind
    title: str | None
    url: str | None
    published_at: DateTime | None
    language: str | None
    _row: strawberry.Private[graph.SourceRow]

    @classmethod
    def of(cls, row: graph.SourceRow) -> Source:
        return cls(
            id=to_global_id("Source", row.id),
            database_id=row.id,
            kind=SourceKind(row.kind),
            title=row.title,
            url=row.url,
            published_at=row.published_at,
            language=row.language,
            _row=row,
        )

    @strawberry.field(description="Who published it: the reporter.")
    async def publisher(self, info: Info) -> Entity | None:
        if self._row.publisher_id is None:
            return None
        return Entity.of(await info.context.loaders.entities.load(self._row.publisher_id))

    @strawberry.field
    async def authors(self, info: Info) -> list[Entity]:
        ids = await info.context.loaders.authors.load(self._row.id)
        return [Entity.of(e) for e in await info.context.loaders.entities.load_many(ids)]

    @strawberry.field(description="Claims this source prints.")
    async def claims(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ClaimConnection:
        return await claim_connection(
            info, ClaimFilter(), ClaimOrder.SAID_AT_DESC, first, after, last, before, ("source", self._row.id)
        )

    @strawberry.field(description="Sources this one attributes its claims to.")
    async def cites(self, info: Info) -> list[Source]:
        ids = await info.context.loaders.cites.load(self._row.id)
        return [Source.of(s) for s in await info.context.loaders.sources.load_many(ids)]


SearchResult = Annotated[Claim | Entity, strawberry.union("SearchResult")]


def node_of(type_name: str, row: Any) -> Any:
    """A Node object for a row of ``type_name``."""
    if row is None:
        return None
    makers: dict[str, Callable[[Any], Any]] = {
        "Claim": Claim.of,
        "Entity": Entity.of,
        "Source": Source.of,
        "Topic": Topic.of,
        "Appearance": Appearance.of,
        "EntityRole": EntityRole.of,
    }
    return makers[type_name](row)
