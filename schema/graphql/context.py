"""Per-request GraphQL context: the database, the caller and DataLoaders built for this request only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from db import graph
from db.database import Database

K = TypeVar("K")
V = TypeVar("V")


class SharedLoader(DataLoader[K, V]):
    """A DataLoader whose cached futures survive a cancelled waiter.

    graphql-core cancels the sibling resolvers of a field whose error nulls their parent; a task
    cancelled while awaiting a future cancels that future too. The future is the loader's cached
    one, shared with resolvers elsewhere in the response, which would then raise CancelledError
    and fail the whole request. Each caller awaits its own shield instead.
    """

    def load(self, key: K) -> Awaitable[V]:
        shared = asyncio.ensure_future(super().load(key))
        shared.add_done_callback(_seen)  # a failure nobody waits for any more is not worth a warning
        return asyncio.shield(shared)


def _seen(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _loader(
    db: Database, batch: Callable[[Database, list[int]], Awaitable[dict[int, V]]], default: Any = None
) -> DataLoader[int, Any]:
    async def load(keys: Sequence[int]) -> list[Any]:
        found = await batch(db, list(keys))
        return [found.get(k, default() if callable(default) else default) for k in keys]

    return SharedLoader(load_fn=load)


@dataclass
class Loaders:
    """One DataLoader per look-up: a whole level of the query costs one statement."""

    db: Database
    claims: DataLoader[int, Any] = field(init=False)
    entities: DataLoader[int, Any] = field(init=False)
    sources: DataLoader[int, Any] = field(init=False)
    speakers: DataLoader[int, Any] = field(init=False)
    appearances: DataLoader[int, Any] = field(init=False)
    mentions: DataLoader[int, Any] = field(init=False)
    topics: DataLoader[int, Any] = field(init=False)
    related: DataLoader[int, Any] = field(init=False)
    aliases: DataLoader[int, Any] = field(init=False)
    roles: DataLoader[int, Any] = field(init=False)
    external_ids: DataLoader[int, Any] = field(init=False)
    authors: DataLoader[int, Any] = field(init=False)
    cites: DataLoader[int, Any] = field(init=False)
    topic_by_id: DataLoader[int, Any] = field(init=False)
    appearance_by_id: DataLoader[int, Any] = field(init=False)
    role_by_id: DataLoader[int, Any] = field(init=False)

    def __post_init__(self) -> None:
        db = self.db
        self.claims = _loader(db, graph.claims_by_ids)
        self.entities = _loader(db, graph.entities_by_ids)
        self.sources = _loader(db, graph.sources_by_ids)
        self.speakers = _loader(db, graph.speakers_of, list)
        self.appearances = _loader(db, graph.appearances_of, list)
        self.mentions = _loader(db, graph.mentions_of, list)
        self.topics = _loader(db, graph.topics_of, list)
        self.related = _loader(db, graph.related_of, list)
        self.aliases = _loader(db, graph.aliases_of, list)
        self.roles = _loader(db, graph.roles_of, list)
        self.external_ids = _loader(db, graph.external_ids_of, list)
        self.authors = _loader(db, graph.authors_of, list)
        self.cites = _loader(db, graph.cites_of, list)
        self.topic_by_id = _loader(db, graph.topics_by_ids)
        self.appearance_by_id = _loader(db, graph.appearances_by_ids)
        self.role_by_id = _loader(db, graph.roles_by_ids)


@dataclass
class Context:
    """What every resolver sees as ``info.context``."""

    db: Database
    caller: Any = None
    settings: Any = None
    request: Any = None
    connection_params: Any = None  # a websocket's connection_init payload (strawberry sets it)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)
