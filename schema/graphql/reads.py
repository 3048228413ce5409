"""Objects read compiled are their JSON: a mutation's payload or a subscription's event holds the
dicts db/compile.py wrote, and `CompiledFields` answers each field of them by its response key
(leaves parsed back into the values their types serialise: the same JSON again)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo, get_named_type, is_leaf_type
from strawberry.extensions import SchemaExtension


class CompiledFields(SchemaExtension):
    """Resolves a field of an object read compiled (a dict) from that dict."""

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], *args: Any, **kwargs: Any
    ) -> Any:
        if not isinstance(root, dict) or info.parent_type is info.schema.subscription_type:
            return _next(root, info, *args, **kwargs)  # (a subscription's event is its field's value)
        value = root.get(info.path.key)
        named = get_named_type(info.return_type)
        if value is None or not is_leaf_type(named):
            return value
        if isinstance(value, list):
            return [None if v is None else named.parse_value(v) for v in value]
        return named.parse_value(value)
