"""The GraphQL explorer documents everything: every type, field, argument and enum is described."""

from __future__ import annotations

from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from schema.graphql.core import core_schema
from schema.graphql.descriptions import DESCRIPTIONS
from schema.graphql.schema import build_schema

BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def undescribed() -> list[str]:
    missing = []
    for name, kind in core_schema(build_schema()).type_map.items():
        if name.startswith("__") or name in BUILT_IN:
            continue
        if not kind.description:
            missing.append(name)
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({a})" for a, arg in getattr(field, "args", {}).items() if not arg.description
                ]
    return missing


def test_every_type_field_and_argument_is_described() -> None:
    assert undescribed() == [], "describe these inline or in schema/graphql/descriptions.py"


def test_no_description_is_kept_for_something_that_does_not_exist() -> None:
    schema = core_schema(build_schema())
    known = set()
    for name, kind in schema.type_map.items():
        known.add(name)
        for field_name, field in getattr(kind, "fields", {}).items():
            known.add(f"{name}.{field_name}")
            known.update(f"{name}.{field_name}({a})" for a in getattr(field, "args", {}))
    assert sorted(set(DESCRIPTIONS) - known) == []
