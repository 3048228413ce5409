"""The Strawberry schema: queries (compiled to SQL: db/compile.py), mutations and subscriptions."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules
from strawberry.schema.config import StrawberryConfig

from schema.graphql.core import Lend
from schema.graphql.descriptions import describe
from schema.graphql.query import Query
from schema.graphql.reads import CompiledFields
from schema.graphql.scalars import DATETIME
from schema.graphql.types import Appearance, Claim, Entity, EntityRole, Source, Topic

log = logging.getLogger("strawberry.execution")


class Schema(strawberry.Schema):
    """`strawberry.Schema` whose log tells a client's mistake from a fault, through the hook Strawberry
    documents for it (`process_errors`): an error the client caused (a document or variables that do
    not validate, an argument a resolver refused) is one INFO line without a traceback; any other
    exception is an ERROR with its traceback. Fuzzing otherwise buries the faults under tracebacks
    of bad cursors and ids."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            if self.config.disable_field_suggestions and "Did you mean" in error.message:
                # Strawberry's own option drops them from unknown fields only; arguments, enum
                # values, input fields and types spell the schema out just as well.
                error.message = error.message.split(" Did you mean")[0]
            original = error.original_error
            where = {"graphql_path": error.path, "code": (error.extensions or {}).get("code")}
            if original is None or isinstance(original, GraphQLError):
                log.info("client error: %s", error.message, extra=where)
            else:
                log.error("%s", error.message, exc_info=original, extra=where)


def build_schema(*, suggestions: bool = True, **kwargs: object) -> strawberry.Schema:
    """The schema; ``suggestions=False`` keeps "Did you mean …?" out of error messages (for a server
    without introspection); ``kwargs`` go to `strawberry.Schema` (extensions, …; `CompiledFields` is
    added). Its graphql-core schema is `schema.graphql.core.core_schema`'s to lend."""
    extensions = list(kwargs.pop("extensions", None) or [])  # type: ignore[call-overload]
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
    built = Schema(
        query=Query,
        mutation=mutation,
        subscription=subscription,
        types=[Claim, Entity, Source, Appearance, Topic, EntityRole],
        config=StrawberryConfig(
            auto_camel_case=True, scalar_map={datetime: DATETIME}, disable_field_suggestions=not suggestions
        ),
        extensions=[*extensions, CompiledFields, lambda: AddValidationRules([Lend])],
        **kwargs,  # type: ignore[arg-type]
    )
    return describe(built)


schema = build_schema()
