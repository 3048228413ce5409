"""`Query`: the read entry points (ordinary resolution; normally served compiled)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import strawberry
from graphql import GraphQLError

from db import graph
from db.filters import Params
from schema.graphql.scalars import DateTime, from_global_id
from schema.graphql.types import (
    MAX_PAGE,
    Claim,
    ClaimConnection,
    ClaimFilterInput,
    ClaimOrder,
    Entity,
    EntityKind,
    Info,
    Node,
    PageInfo,
    SearchResult,
    Source,
    Topic,
    check_text,
    claim_connection,
    claim_filter,
    node_of,
    page_window,
)

LOADER_OF = {
    "Claim": "claims",
    "Entity": "entities",
    "Source": "sources",
    "Topic": "topic_by_id",
    "Appearance": "appearance_by_id",
    "EntityRole": "role_by_id",
}


@strawberry.type
class EntityEdge:
    cursor: str
    node: Entity


@strawberry.type
class EntityConnection:
    edges: list[EntityEdge]
    page_info: PageInfo


@strawberry.type
class SourceEdge:
    cursor: str
    node: Source


@strawberry.type
class SourceConnection:
    edges: list[SourceEdge]
    page_info: PageInfo


def _page_info(edges: list[EntityEdge] | list[SourceEdge], more: bool, after: object) -> PageInfo:
    return PageInfo(
        has_next_page=more,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


async def _node(info: Info, value: str, argument: str = "id") -> Node | None:
    type_name, row_id = from_global_id(value, argument=argument)
    loader = LOADER_OF[type_name]
    node: Node | None = node_of(type_name, await getattr(info.context.loaders, loader).load(row_id))
    return node


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _node(info, id)

    @strawberry.field(description="Objects by global id, in the order asked (null where none).")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_PAGE:
            raise GraphQLError(f"ids: at most {MAX_PAGE}")
        return list(await asyncio.gather(*(_node(info, i, "ids") for i in ids)))  # one batch per type

    @strawberry.field(description="Claims, filtered, newest said first by default; keyset-paginated.")
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
        return await claim_connection(info, claim_filter(filter), order_by, first, after, last, before)

    @strawberry.field
    async def claim(self, info: Info, id: strawberry.ID) -> Claim | None:
        row = await info.context.loaders.claims.load(from_global_id(id, "Claim")[1])
        return Claim.of(row) if row is not None else None

    @strawberry.field
    async def entity(self, info: Info, id: strawberry.ID) -> Entity | None:
        row = await info.context.loaders.entities.load(from_global_id(id, "Entity")[1])
        return Entity.of(row) if row is not None else None

    @strawberry.field(description="Entities; `search` matches any alias by word prefix, ignoring case and accents.")
    async def entities(
        self,
        info: Info,
        search: str | None = None,
        kind: EntityKind | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> EntityConnection:
        if search is not None:
            check_text("search", search, 200)
        sort = "entities-rank" if search is not None else "entities"
        size, cursor, _ = page_window(first, after, None, None, sort)
        p = Params()
        sql = graph.entity_page_sql(p, search=search, kind=kind.value if kind else None, after=cursor, limit=size + 1)
        rows = await graph.page_ids(info.context.db, sql, p)
        more, rows = len(rows) > size, rows[:size]
        found = await info.context.loaders.entities.load_many([r.id for r in rows])
        from db.filters import Cursor

        edges = [
            EntityEdge(cursor=Cursor(sort, r.sort_key, r.id).encode(), node=Entity.of(e))
            for r, e in zip(rows, found, strict=True)
        ]
        return EntityConnection(edges=edges, page_info=_page_info(edges, more, cursor))

    @strawberry.field
    async def source(self, info: Info, id: strawberry.ID) -> Source | None:
        row = await info.context.loaders.sources.load(from_global_id(id, "Source")[1])
        return Source.of(row) if row is not None else None

    @strawberry.field(description="Sources, newest first; filter by publisher and publication date.")
    async def sources(
        self,
        info: Info,
        publisher: strawberry.ID | None = None,
        published_after: DateTime | None = None,
        published_before: DateTime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> SourceConnection:
        size, cursor, _ = page_window(first, after, None, None, "sources")
        p = Params()
        after_dt: datetime | None = published_after
        sql = graph.source_page_sql(
            p,
            publisher=from_global_id(publisher, "Entity", "publisher")[1] if publisher is not None else None,
            published_after=after_dt,
            published_before=published_before,
            after=cursor,
            limit=size + 1,
        )
        rows = await graph.page_ids(info.context.db, sql, p)
        more, rows = len(rows) > size, rows[:size]
        found = await info.context.loaders.sources.load_many([r.id for r in rows])
        from db.filters import Cursor

        edges = [
            SourceEdge(cursor=Cursor("sources", r.sort_key, r.id).encode(), node=Source.of(s))
            for r, s in zip(rows, found, strict=True)
        ]
        return SourceConnection(edges=edges, page_info=_page_info(edges, more, cursor))

    @strawberry.field(description="Every topic, by slug.")
    async def topics(self, info: Info) -> list[Topic]:
        return [Topic.of(t) for t in await graph.list_topics(info.context.db)]

    @strawberry.field(description="Claims and entities matching a search box, ranked together.")
    async def search(self, info: Info, query: str, first: int = 10) -> list[SearchResult]:
        if not 1 <= first <= MAX_PAGE:
            raise GraphQLError(f"first must be between 1 and {MAX_PAGE}")
        check_text("query", query, 500)
        hits = await graph.search_hits(info.context.db, query, first)
        out: list[Claim | Entity] = []
        for type_name, row_id in hits:
            loader = info.context.loaders.claims if type_name == "Claim" else info.context.loaders.entities
            row = await loader.load(row_id)
            if row is not None:
                out.append(Claim.of(row) if type_name == "Claim" else Entity.of(row))
        return out
