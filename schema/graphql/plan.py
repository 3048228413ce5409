"""From a validated GraphQL operation to the `Sel` plan db/compile.py turns into one statement.

graphql-core collects the fields (fragments, inline fragments, @skip/@include, field merging) and
coerces the arguments; each field's declaration (`stored(...)`, beside it in schema/graphql/) says
how it reads the store and interprets its arguments. An argument the interpretation refuses is a
``BAD_USER_INPUT`` error: the nearest nullable field above it answers ``null`` without reading, as
GraphQL's null propagation would, and the error's ``path`` is the response keys down to the field
(no list indices: the argument is wrong in every item alike, even in a list that happens to be empty).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import strawberry
from graphql import (
    DirectiveNode,
    DocumentNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    execute_sync,
    get_named_type,
    is_abstract_type,
    is_non_null_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_fields, collect_subfields
from graphql.execution.values import VariableValues, get_argument_values
from graphql.language import FragmentDefinitionNode
from graphql.language import Visitor as Visitor_

from db import graph
from db.compile import Sel

STORE_KEY = "claimsbase.store"  # a field's `Declared`, in its Strawberry metadata
DEFAULT_PAGE = 20  # a connection's size when neither `first` nor `last` is given
LIST_WEIGHT = 5  # what an unpaginated list (speakers, appearances…) is assumed to hold, for cost


@dataclass(frozen=True)
class Declared:
    """How a field reads the store, and how its arguments become the compiler's (``args``: called
    with the coerced arguments by their Python names; a `GraphQLError` refuses them)."""

    store: graph.Store
    args: Callable[..., dict[str, Any]] | None = None


def stored(
    store: graph.Store, args: Callable[..., dict[str, Any]] | None = None, description: str | None = None
) -> Any:
    """A field read from the store as ``store`` declares; ``args``, when the field takes arguments,
    declares them by its parameters (Strawberry reads its signature) and interprets them."""
    metadata = {STORE_KEY: Declared(store, args)}
    if args is None:
        return strawberry.field(metadata=metadata, description=description)
    return strawberry.field(resolver=args, metadata=metadata, description=description)


def declarations(schema: strawberry.Schema, gql: GraphQLSchema) -> dict[tuple[str, str], Declared]:
    """(type name, field name) → its declaration, for every stored field of ``schema``."""
    out: dict[tuple[str, str], Declared] = {}
    for name, type_ in gql.type_map.items():
        definition = schema.get_type_by_name(name) if is_object_type(type_) else None
        for f in getattr(definition, "fields", ()):
            declared = f.metadata.get(STORE_KEY)
            if isinstance(declared, Declared):
                out[(name, schema.config.name_converter.get_graphql_name(f))] = declared
    return out


def python_name(name: str) -> str:
    """``"orderBy"`` → ``"order_by"``: the schema camel-cases Python names (auto_camel_case)."""
    return re.sub(r"[A-Z]", lambda m: "_" + m[0].lower(), name)


class Refused(Exception):
    """Argument errors that null a non-null field: its parent must answer null instead."""

    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__(errors[0].message)
        self.errors = errors


@dataclass
class Skel:
    """A collected field before its arguments are read (see `Planner.skeleton`)."""

    key: str
    name: str
    type: str
    nullable: bool
    declared: Declared | None
    field_def: GraphQLField | None
    detail: FieldDetails | None
    fields: list[Skel] = field(default_factory=list)
    by_type: dict[str, list[Skel]] = field(default_factory=dict)
    fixed: Sel | None = None  # the plan of a subtree without arguments: the same for every request
    introspection: list[FieldDetails] | None = None  # __schema, __type: answered per request


def directive_variables(document: DocumentNode) -> frozenset[str]:
    """Names of the variables that @skip/@include read: they change which fields are collected."""
    names: set[str] = set()

    class Visitor(Visitor_):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in ("skip", "include"):
                names.update(a.value.name.value for a in node.arguments or () if isinstance(a.value, VariableNode))

    visit(document, Visitor())
    return frozenset(names)


class Planner:
    """Builds the plan of one operation with its variables; ``errors`` collects the refused arguments."""

    def __init__(
        self,
        schema: GraphQLSchema,
        store: dict[tuple[str, str], Declared],
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.store = store
        self.operation = operation
        self.fragment_nodes = fragments
        self.fragments = {name: FragmentDetails(node) for name, node in fragments.items()}
        self.variables = variables
        self.errors: list[GraphQLError] = []

    def root_type(self) -> GraphQLObjectType:
        root = self.schema.get_root_type(self.operation.operation)
        assert root is not None  # validation refuses an operation its schema has no root for
        return root

    def skeleton(self) -> list[Skel]:
        """The operation's fields, collected (fragments, @skip/@include, merging) but not yet
        argued: cacheable per document and the values of the variables its directives read."""
        root = self.root_type()
        collected = collect_fields(self.schema, self.fragments, self.variables, root, self.operation)
        return [self.skel(root, key, details) for key, details in collected.grouped_field_set.items()]

    def skel(self, parent: GraphQLObjectType, key: str, details: list[FieldDetails]) -> Skel:
        name = details[0].node.name.value
        if name == "__typename":
            return Skel(key, name, parent.name, False, None, None, None)
        field_def = parent.fields[name] if not name.startswith("__") else None
        if field_def is None:  # __schema, __type
            return Skel(key, name, "", True, None, None, details[0], introspection=details)
        named = get_named_type(field_def.type)
        out = Skel(
            key,
            name,
            named.name,
            not is_non_null_type(field_def.type),
            self.store.get((parent.name, name)),
            field_def,
            details[0],
        )
        if is_object_type(named):
            out.fields = self.children(named, details)
        elif is_abstract_type(named):
            for possible in self.schema.get_possible_types(named):
                out.by_type[possible.name] = self.children(possible, details)
        return out

    def children(self, type_: GraphQLObjectType, details: list[FieldDetails]) -> list[Skel]:
        collected = collect_subfields(self.schema, self.fragments, self.variables, self.operation, type_, details)
        return [self.skel(type_, key, d) for key, d in collected.grouped_field_set.items()]

    def introspect(self, key: str, details: list[FieldDetails]) -> str:
        """The JSON of an introspection root field, run by graphql-core on its own: from the schema
        alone, nothing to read."""
        operation = OperationDefinitionNode(
            operation=OperationType.QUERY,
            variable_definitions=self.operation.variable_definitions,
            selection_set=SelectionSetNode(selections=tuple(d.node for d in details)),
        )
        document = DocumentNode(definitions=(operation, *self.fragment_nodes.values()))
        result = execute_sync(self.schema, document, variable_values=self.variables.coerced)
        if result.errors:
            raise result.errors[0]
        return orjson.dumps((result.data or {}).get(key)).decode()

    def plan(self, skels: list[Skel]) -> list[Sel] | None:
        """The skeleton with its arguments interpreted under this request's variables; None when a
        refused argument nulls a non-null root field (the whole ``data`` is then null)."""
        errors: list[GraphQLError] = []
        sels = self.each(skels, (), errors)
        self.errors += errors
        return None if errors else sels

    def each(self, skels: list[Skel], path: tuple[str, ...], errors: list[GraphQLError]) -> list[Sel]:
        out = []
        for k in skels:
            try:
                out.append(self.sel(k, (*path, k.key)))
            except Refused as exc:
                errors += exc.errors
        return out

    def sel(self, k: Skel, path: tuple[str, ...]) -> Sel:
        """The plan of one field; subtrees without arguments are planned once and shared (the
        compiler only reads plans), so a cached skeleton costs one `interpret` per argued field."""
        if k.fixed is not None:
            return k.fixed
        if k.introspection is not None:  # its arguments may be variables: not fixed
            return Sel(k.key, k.name, args={"json": self.introspect(k.key, k.introspection)})
        if k.field_def is None or k.detail is None:
            k.fixed = Sel(k.key, k.name, fixed=True)
            return k.fixed
        errors: list[GraphQLError] = []
        args: dict[str, Any] = {}
        try:
            args = self.interpret(k)
        except GraphQLError as exc:
            nodes = [k.detail.node]
            errors.append(GraphQLError(exc.message, nodes, path=list(path), extensions={"code": "BAD_USER_INPUT"}))
        fields = self.each(k.fields, path, errors)
        by_type = {t: self.each(cs, path, errors) for t, cs in k.by_type.items()}
        if errors:
            if not k.nullable:
                raise Refused(errors)
            self.errors += errors
            return Sel(k.key, k.name, k.type, null=True)
        out = Sel(k.key, k.name, k.type, k.declared.store if k.declared else None, args, fields, by_type)
        if not k.field_def.args and all(c.fixed is not None for c in _children(k)):
            out.fixed = True
            k.fixed = out
        return out

    def interpret(self, k: Skel) -> dict[str, Any]:
        """A field's arguments as its declaration interprets them."""
        if k.declared is None or k.declared.args is None or k.field_def is None or k.detail is None:
            return {}
        raw = get_argument_values(k.field_def, k.detail.node, self.variables, k.detail.fragment_variable_values)
        return k.declared.args(**{python_name(name): value for name, value in raw.items()})

    def root(self) -> list[Sel] | None:
        """Skeleton and arguments in one go."""
        return self.plan(self.skeleton())

    def field_nodes(self, key: str) -> list[FieldDetails]:
        """The root field nodes answering response key ``key``."""
        root = self.root_type()
        collected = collect_fields(self.schema, self.fragments, self.variables, root, self.operation)
        return collected.grouped_field_set[key]

    def reads(self, key: str, type_name: str, ids: dict[str, Any]) -> list[Sel] | None:
        """The plan reading, by id, the fields of root field ``key``'s value (of type ``type_name``)
        named in ``ids``: field name → row id, or a list of them. Payloads of mutations."""
        type_ = self.schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        skels = [k for k in self.children(type_, self.field_nodes(key)) if k.name in ids]
        sels = self.plan(skels)
        if sels is None:
            return None
        out = []
        for s in sels:
            value = ids[s.name]
            if isinstance(value, list):
                out.append(_by_id(s, graph.ByIds(), {"ids": [(s.type, i) for i in value]}))
            else:
                out.append(_by_id(s, graph.ById(graph.NODES[s.type]), {"id": value}))
        return out

    def read(self, key: str, row_id: int) -> list[Sel] | None:
        """The plan reading root field ``key``'s own value by id. Events of subscriptions."""
        [k] = [self.skel(self.root_type(), key, self.field_nodes(key))]
        sels = self.plan([k])
        if sels is None:
            return None
        return [_by_id(sels[0], graph.ById(graph.NODES[k.type]), {"id": row_id})]

    def cost(self, sels: list[Sel]) -> int:
        """Fields weighted by the sizes above them: ``claims(first: 50) { speakers { … } }`` ≈ 50 × 5 × …"""
        total = 0
        for s in sels:
            total += 1 + max(_fanout(s), 1) * self.cost([*s.fields, *(c for cs in s.by_type.values() for c in cs)])
        return total


def _by_id(s: Sel, store: graph.Store, args: dict[str, Any]) -> Sel:
    return Sel(s.key, s.name, s.type, store, args, s.fields, s.by_type, null=s.null)


def _fanout(s: Sel) -> int:
    """How many objects a field is assumed to answer, from its declaration."""
    match s.store:
        case graph.ClaimPage() | graph.EntityPage() | graph.SourcePage():
            return int(s.args["window"].size)
        case graph.Search():
            return int(s.args["first"])
        case graph.ByIds():
            return len(s.args["ids"])
        case graph.Many():
            return LIST_WEIGHT
    return 1


def _children(k: Skel) -> list[Skel]:
    return [*k.fields, *(c for cs in k.by_type.values() for c in cs)]
