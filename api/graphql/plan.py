"""From a validated GraphQL operation to a `Sel` plan the SQL compiler understands.

graphql-core collects the fields (fragments, inline fragments, @skip/@include, field merging) and
coerces the arguments; the arguments are then interpreted exactly as the ordinary resolvers
interpret them (same helpers), so a bad argument becomes `NotCompilable` and the ordinary path
reports the error in the standard shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_fields, collect_subfields
from graphql.execution.values import VariableValues, get_argument_values
from graphql.language import FragmentDefinitionNode
from graphql.language import Visitor as Visitor_

from db.compile import NotCompilable, Sel, Window
from schema.graphql.scalars import from_global_id
from schema.graphql.types import MAX_PAGE, ClaimFilterInput, check_text, claim_filter, page_window

_SNAKE = {
    "reportedBy": "reported_by",
    "saidAfter": "said_after",
    "saidBefore": "said_before",
    "reportedAfter": "reported_after",
    "reportedBefore": "reported_before",
}

# Root look-ups whose `id` argument is the global id of this type.
ID_LOOKUPS = {"claim": "Claim", "entity": "Entity", "source": "Source"}
CLAIM_CONNECTIONS = {("Query", "claims"), ("Entity", "claims")}
PLAIN_CONNECTIONS = {("Entity", "mentionedIn"), ("Source", "claims"), ("Topic", "claims")}


@dataclass
class Skel:
    """A collected field before its arguments are read (see `Planner.skeleton`)."""

    key: str
    name: str
    parent: str
    field_def: GraphQLField | None
    detail: FieldDetails | None
    fields: list[Skel] = field(default_factory=list)
    by_type: dict[str, list[Skel]] = field(default_factory=dict)
    fixed: Sel | None = None  # the plan of a subtree without arguments: the same for every request


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
    """Builds the plan of one operation with its variables."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = {name: FragmentDetails(node) for name, node in fragments.items()}
        self.variables = variables

    def skeleton(self) -> list[Skel]:
        """The operation's fields, collected (fragments, @skip/@include, merging) but not yet
        argued: cacheable per document and the values of the variables its directives read."""
        query_type = self.schema.query_type
        assert query_type is not None
        collected = collect_fields(self.schema, self.fragments, self.variables, query_type, self.operation)
        if collected.new_defer_usages:
            raise NotCompilable("@defer")
        return [self.skel(query_type, key, details) for key, details in collected.grouped_field_set.items()]

    def skel(self, parent: GraphQLObjectType, key: str, details: list[FieldDetails]) -> Skel:
        name = details[0].node.name.value
        if name == "__typename":
            return Skel(key, name, parent.name, None, None)
        if name.startswith("__"):
            raise NotCompilable("introspection")
        field_def = parent.fields[name]
        out = Skel(key, name, parent.name, field_def, details[0])
        named = get_named_type(field_def.type)
        if is_object_type(named):
            out.fields = self.children(named, details)
        elif is_abstract_type(named):
            for possible in self.schema.get_possible_types(named):
                out.by_type[possible.name] = self.children(possible, details)
        return out

    def children(self, type_: GraphQLObjectType, details: list[FieldDetails]) -> list[Skel]:
        collected = collect_subfields(self.schema, self.fragments, self.variables, self.operation, type_, details)
        if collected.new_defer_usages:
            raise NotCompilable("@defer")
        return [self.skel(type_, key, d) for key, d in collected.grouped_field_set.items()]

    def plan(self, skels: list[Skel]) -> list[Sel]:
        """The skeleton with its arguments interpreted under this request's variables."""
        return [self.sel(k) for k in skels]

    def sel(self, k: Skel) -> Sel:
        """The plan of one field; subtrees without arguments are planned once and shared (the
        compiler only reads plans), so a cached skeleton costs one `interpret` per argued field."""
        if k.fixed is not None:
            return k.fixed
        if k.field_def is None or k.detail is None:
            k.fixed = Sel(k.key, k.name, fixed=True)
            return k.fixed
        args = self.interpret(k.parent, k.name, k.field_def, k.detail) if k.field_def.args else {}
        out = Sel(
            k.key,
            k.name,
            args,
            [self.sel(c) for c in k.fields],
            {t: [self.sel(c) for c in cs] for t, cs in k.by_type.items()},
        )
        if not k.field_def.args and all(c.fixed is not None for c in _children(k)):
            out.fixed = True
            k.fixed = out
        return out

    def root(self) -> list[Sel]:
        """Skeleton and arguments in one go."""
        return self.plan(self.skeleton())

    def interpret(self, parent: str, name: str, field_def: GraphQLField, detail: FieldDetails) -> dict[str, Any]:
        """Arguments as the db layer takes them; any input error → `NotCompilable`."""
        raw = get_argument_values(field_def, detail.node, self.variables, detail.fragment_variable_values)
        try:
            return self._interpret(parent, name, raw)
        except GraphQLError as exc:
            raise NotCompilable(str(exc)) from exc

    def _interpret(self, parent: str, name: str, raw: dict[str, Any]) -> dict[str, Any]:
        if (parent, name) in CLAIM_CONNECTIONS:
            value = raw.get("filter")
            f = claim_filter(ClaimFilterInput(**{_SNAKE.get(k, k): v for k, v in value.items()}) if value else None)
            sort = raw["orderBy"].value
            if sort == "relevance" and not f.q:
                raise GraphQLError("orderBy: RELEVANCE needs filter.search")
            return {"filter": f, "sort": sort, "window": self.window(raw, sort)}
        if (parent, name) in PLAIN_CONNECTIONS:
            return {"window": self.window(raw, "-said_at")}
        if parent != "Query":
            return {}
        if name in ID_LOOKUPS:
            return {"id": from_global_id(raw["id"], ID_LOOKUPS[name])[1]}
        match name:
            case "node":
                return {"id": from_global_id(raw["id"])}
            case "nodes":
                if len(raw["ids"]) > MAX_PAGE:
                    raise GraphQLError(f"ids: at most {MAX_PAGE}")
                return {"ids": [from_global_id(i, argument="ids") for i in raw["ids"]]}
            case "entities":
                search = raw.get("search")
                if search is not None:
                    check_text("search", search, 200)
                sort = "entities-rank" if search is not None else "entities"
                kind = raw.get("kind")
                return {
                    "search": search,
                    "kind": kind.value if kind else None,
                    "window": self.window(raw, sort),
                }
            case "sources":
                publisher = raw.get("publisher")
                return {
                    "publisher": from_global_id(publisher, "Entity", "publisher")[1] if publisher else None,
                    "published_after": raw.get("publishedAfter"),
                    "published_before": raw.get("publishedBefore"),
                    "window": self.window(raw, "sources"),
                }
            case "search":
                if not 1 <= raw["first"] <= MAX_PAGE:
                    raise GraphQLError(f"first must be between 1 and {MAX_PAGE}")
                check_text("query", raw["query"], 500)
                return {"query": raw["query"], "first": raw["first"]}
        return {}

    @staticmethod
    def window(raw: dict[str, Any], sort: str) -> Window:
        size, cursor, backward = page_window(
            raw.get("first"), raw.get("after"), raw.get("last"), raw.get("before"), sort
        )
        return Window(size, cursor, backward)


def _children(k: Skel) -> list[Skel]:
    return [*k.fields, *(c for cs in k.by_type.values() for c in cs)]


def unwrap(type_: Any) -> Any:
    """The named type under list and non-null wrappers."""
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_
