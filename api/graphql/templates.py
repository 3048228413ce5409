"""Item pages compiled once: `IdTemplate`, a compiled statement whose only inputs are ids.

An operation whose only variables are ids of root look-ups (``query($id: ID!) { claim(id: $id) … }``,
the shape of every item page) is compiled once; another id then costs a decode and a list copy
instead of coercing, planning and compiling again (a new id almost never hits the per-variables cache).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    VariableNode,
    visit,
)
from graphql.language import Visitor as GraphQLVisitor

from db.compile import Statement
from schema.graphql.scalars import from_global_id, to_global_id


@dataclass(frozen=True)
class IdTemplate:
    """A compiled statement whose only inputs are ids: the parameters, and for each variable the
    type its global id must name and the parameter positions its row id goes to."""

    statement: Statement
    slots: tuple[tuple[str, str, tuple[int, ...]], ...]  # (variable, type name, positions)

    def bind(self, variables: dict[str, Any]) -> Statement | None:
        """The statement for these variables; None when they are not plain valid ids of the
        expected types (the full path then answers, with its errors)."""
        if len(variables) != len(self.slots):
            return None
        params = list(self.statement.params)
        for name, type_name, positions in self.slots:
            value = variables.get(name)
            if not isinstance(value, str):
                return None
            try:
                row_id = from_global_id(value, type_name)[1]
            except GraphQLError:
                return None
            for i in positions:
                params[i] = row_id
        return Statement(self.statement.sql, params, self.statement.pieces)  # (`_replace` is two Python calls)


def id_template(
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    lookups: dict[str, str],
    compile_with: Callable[[dict[str, str]], Statement | None],
) -> IdTemplate | None:
    """The operation's `IdTemplate`, when its variables are all ids of root look-ups (``lookups``:
    root field → the type its ``id`` names); ``compile_with`` compiles it for some variables.

    The places of the ids are found by compiling with three other sets of ids (after this
    request's own compile, so the kept SQL of its argument-free fields is in place): the
    statement must not change, and exactly the parameters that change must hold the ids.
    """
    types = _id_variables(operation, fragments, lookups)
    if not types:
        return None
    samples = [{name: 1 + i + n * len(types) for i, name in enumerate(types)} for n in range(3)]  # all distinct
    compiled = []
    for ids in samples:
        result = compile_with({name: to_global_id(types[name], row_id) for name, row_id in ids.items()})
        if result is None or not result.sql or b'"errors"' in result.pieces[0]:
            return None
        compiled.append(result)
    first = compiled[0]
    if any(c.sql != first.sql or c.pieces != first.pieces or len(c.params) != len(first.params) for c in compiled):
        return None
    slots: dict[str, list[int]] = {name: [] for name in types}
    for i in range(len(first.params)):
        column = [c.params[i] for c in compiled]
        if column.count(column[0]) == len(column):
            continue  # the same in every sample: not an id
        owner = next((n for n in types if column == [ids[n] for ids in samples]), None)
        if owner is None:
            return None  # changes with the ids, but is not one of them
        slots[owner].append(i)
    return IdTemplate(first, tuple((n, types[n], tuple(slots[n])) for n in types))


def _id_variables(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode], lookups: dict[str, str]
) -> dict[str, str] | None:
    """variable → the type its id names, when every variable is an ``ID`` without a default used
    only as the ``id`` argument of root `claim`/`entity`/`source` fields; else None."""
    definitions = operation.variable_definitions or ()
    if not definitions or any(_uses_variables(f) for f in fragments.values()):
        return None
    types: dict[str, str] = {}
    for d in definitions:
        named = d.type.type if isinstance(d.type, NonNullTypeNode) else d.type
        if not isinstance(named, NamedTypeNode) or named.name.value != "ID":
            return None
        if d.default_value is not None or d.directives:
            return None
        types[d.variable.name.value] = ""
    if operation.directives and _uses_variables(operation.directives):
        return None
    for sel in operation.selection_set.selections:
        if not isinstance(sel, FieldNode):
            if _uses_variables(sel):
                return None
            continue
        if _uses_variables(sel.directives) or _uses_variables(sel.selection_set):
            return None
        for arg in sel.arguments or ():
            if not isinstance(arg.value, VariableNode):
                if _uses_variables(arg.value):
                    return None
                continue
            type_name = lookups.get(sel.name.value)
            name = arg.value.name.value
            if arg.name.value != "id" or type_name is None or types.get(name) not in ("", type_name):
                return None
            types[name] = type_name
    return types if all(types.values()) else None


def _uses_variables(node: Any) -> bool:
    """Whether ``node`` (a node, a list of nodes or None) holds a variable anywhere."""
    if node is None:
        return False
    if isinstance(node, (list, tuple)):
        return any(_uses_variables(n) for n in node)
    found = False

    class Visitor(GraphQLVisitor):
        def enter_variable(self, *_: Any) -> None:
            nonlocal found
            found = True

    visit(node, Visitor())
    return found
