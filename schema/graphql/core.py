"""graphql-core's schema behind the Strawberry schema, reached through public APIs only.

The executor validates, coerces variables and plans against graphql-core's `GraphQLSchema`, which
Strawberry builds but keeps private. graphql-core hands it to every validation rule
(``ValidationContext.schema``), and Strawberry runs the rules an app adds (``AddValidationRules``):
`Lend` is such a rule, so one validation of ``{ __typename }`` lends the schema (`core_schema`).
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any, ClassVar

from graphql import GraphQLSchema, ValidationContext, ValidationRule


class Lend(ValidationRule):
    """A validation rule that checks nothing and keeps the schema it was given."""

    seen: ClassVar[GraphQLSchema | None] = None

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        Lend.seen = context.schema


_lent: weakref.WeakKeyDictionary[Any, GraphQLSchema] = weakref.WeakKeyDictionary()
_asked = itertools.count()


def core_schema(schema: Any) -> GraphQLSchema:
    """The `GraphQLSchema` ``schema`` (a Strawberry schema built with `Lend`) executes against."""
    found = _lent.get(schema)
    if found is None:
        Lend.seen = None
        # A document never validated before: a validation cache must not skip the rules.
        result = schema.execute_sync(f"{{ lend{next(_asked)}: __typename }}")
        if Lend.seen is None:
            raise RuntimeError(f"the schema was built without schema.graphql.core.Lend ({result.errors})")
        found = _lent[schema] = Lend.seen
    return found
