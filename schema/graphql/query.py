"""`Query`: the read entry points, each declaring how it reads the store (db/graph.py) and how its
arguments are interpreted; db/compile.py answers them."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from db import graph
from schema.graphql.plan import stored
from schema.graphql.scalars import DateTime, from_global_id
from schema.graphql.types import (
    MAX_PAGE,
    Claim,
    ClaimConnection,
    Entity,
    EntityKind,
    Node,
    PageInfo,
    SearchResult,
    Source,
    Topic,
    check_text,
    claim_page,
    page_window,
)


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


def node_id(id: strawberry.ID) -> dict[str, Any]:
    """Any object's global id."""
    return {"id": from_global_id(id)}


def node_ids(ids: list[strawberry.ID]) -> dict[str, Any]:
    """Global ids of any objects, at most a page of them."""
    if len(ids) > MAX_PAGE:
        raise GraphQLError(f"ids: at most {MAX_PAGE}")
    return {"ids": [from_global_id(i, argument="ids") for i in ids]}


def claim_id(id: strawberry.ID) -> dict[str, Any]:
    return {"id": from_global_id(id, "Claim")[1]}


def entity_id(id: strawberry.ID) -> dict[str, Any]:
    return {"id": from_global_id(id, "Entity")[1]}


def source_id(id: strawberry.ID) -> dict[str, Any]:
    return {"id": from_global_id(id, "Source")[1]}


def entity_page(
    search: str | None = None, kind: EntityKind | None = None, first: int | None = None, after: str | None = None
) -> dict[str, Any]:
    if search is not None:
        check_text("search", search, 200)
    sort = "entities-rank" if search is not None else "entities"
    return {
        "search": search,
        "kind": kind.value if kind else None,
        "window": page_window(first, after, None, None, sort),
    }


def source_page(
    publisher: strawberry.ID | None = None,
    published_after: DateTime | None = None,
    published_before: DateTime | None = None,
    first: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    return {
        "publisher": from_global_id(publisher, "Entity", "publisher")[1] if publisher is not None else None,
        "published_after": published_after,
        "published_before": published_before,
        "window": page_window(first, after, None, None, "sources"),
    }


def search_hits(query: str, first: int = 10) -> dict[str, Any]:
    if not 1 <= first <= MAX_PAGE:
        raise GraphQLError(f"first must be between 1 and {MAX_PAGE}")
    check_text("query", query, 500)
    return {"query": query, "first": first}


@strawberry.type
class Query:
    node: Node | None = stored(
        graph.ById(), node_id, "Any object by its global id (a merged entity's id gives the entity it was merged into)."
    )
    nodes: list[Node | None] = stored(
        graph.ByIds(),
        node_ids,
        "Objects by global id, in the order asked (null where none; a merged entity's id gives its survivor).",
    )
    claims: ClaimConnection = stored(
        graph.ClaimPage(), claim_page, "Claims, filtered, newest said first by default; keyset-paginated."
    )
    claim: Claim | None = stored(graph.ById(graph.CLAIM), claim_id)
    entity: Entity | None = stored(graph.ById(graph.ENTITY), entity_id)
    entities: EntityConnection = stored(
        graph.EntityPage(),
        entity_page,
        "Entities; `search` matches any alias by word prefix, ignoring case and accents.",
    )
    source: Source | None = stored(graph.ById(graph.SOURCE), source_id)
    sources: SourceConnection = stored(
        graph.SourcePage(), source_page, "Sources, newest first; filter by publisher and publication date."
    )
    topics: list[Topic] = stored(graph.ALL_TOPICS, description="Every topic, by slug.")
    search: list[SearchResult] = stored(
        graph.Search(), search_hits, "Claims and entities matching a search box, ranked together."
    )
