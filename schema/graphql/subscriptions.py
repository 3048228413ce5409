"""GraphQL subscriptions over graphql-transport-ws: ``claimAdded(filter:)``.

Fed by the worker's LISTEN connection (api/graphql/listener.py): each new claim id is checked
against the subscriber's filter with the same SQL criteria as ``claims(filter:)``, and its `Claim`
read as the subscription selects it, compiled into one statement like any other read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import AbstractContextManager
from typing import Any, Protocol

import strawberry
from graphql import GraphQLError

from db.filters import ClaimFilter
from db.subscriptions import claim_matches
from schema.graphql.context import reader
from schema.graphql.types import Claim, ClaimFilterInput, Info, claim_filter

LISTENER_STATE = "claim_listener"  # app.state attribute (api/graphql/listener.py)


class ClaimFeed(Protocol):
    """What a subscription needs of the listener: a queue of new claim ids for as long as it runs."""

    def subscribe(self) -> AbstractContextManager[asyncio.Queue[int]]: ...


def _feed(info: Info) -> ClaimFeed:
    app: Any = getattr(info.context.request, "app", None)
    feed = getattr(getattr(app, "state", None), LISTENER_STATE, None)
    if feed is None:
        raise GraphQLError("live updates are not available on this server", extensions={"code": "UNAVAILABLE"})
    return feed  # type: ignore[no-any-return]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Each claim as it is added (through any API worker), if it matches `filter`. "
            "Claims that only gain a new appearance are not new claims."
        )
    )
    async def claim_added(self, info: Info, filter: ClaimFilterInput | None = None) -> AsyncGenerator[Claim, None]:
        criteria = claim_filter(filter)
        db = info.context.db
        with _feed(info).subscribe() as queue:
            while True:
                claim_id = await queue.get()
                if criteria != ClaimFilter() and not await claim_matches(db, claim_id, criteria):
                    continue
                claim = await reader(info.context).read_object(db, info, claim_id)
                if claim is None:  # deleted again before we got to it
                    continue
                yield claim
