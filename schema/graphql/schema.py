"""The Strawberry schema: queries (compiled to SQL when possible), mutations and subscriptions."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.extensions import AddValidationRules
from strawberry.schema.config import StrawberryConfig

from schema.graphql.core import Lend
from schema.graphql.descriptions import describe
from schema.graphql.query import Query
from schema.graphql.scalars import DATETIME
from schema.graphql.types import Appearance, Claim, Entity, EntityRole, Source, Topic


def build_schema(**kwargs: object) -> strawberry.Schema:
    """The schema; ``kwargs`` go to `strawberry.Schema` (extensions, …). Its graphql-core schema is
    `schema.graphql.core.core_schema`'s to lend."""
    mutation = subscription = None
    try:
        from schema.graphql.mutations import Mutation

        mutation = Mutation
    except ImportError:
        pass
    try:
        from schema.graphql.subscriptions import Subscription

        subscription = Subscription
    except ImportError:
        pass
    built = strawberry.Schema(
        query=Query,
        mutation=mutation,
        subscription=subscription,
        types=[Claim, Entity, Source, Appearance, Topic, EntityRole],
        config=StrawberryConfig(auto_camel_case=True, scalar_map={datetime: DATETIME}),
        **{**kwargs, "extensions": [*kwargs.get("extensions", ()), lambda: AddValidationRules([Lend])]},  # type: ignore[arg-type, misc]
    )
    return describe(built)


schema = build_schema()
