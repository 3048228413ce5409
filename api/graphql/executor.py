"""Running a GraphQL request: limits, then one compiled SQL statement, else ordinary resolution.

Documents are parsed and validated once and cached by their text; compiled statements are cached
per (document, operation, variables). Limits (tokens, depth, aliases, cost) apply to both paths.

An operation whose only variables are ids of root look-ups (``query($id: ID!) { claim(id: $id) … }``,
the shape of every item page) is compiled once into an `IdTemplate`: the statement with the places
of its ids, so another id costs a decode and a list copy instead of coercing, planning and
compiling again (a new id almost never hits the per-variables cache).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from cachetools import LRUCache
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.execution.values import VariableValues, get_variable_values
from graphql.language import Visitor as GraphQLVisitor
from graphql.validation import NoSchemaIntrospectionCustomRule

from api.graphql.persisted import PersistedQueries, Refused
from api.graphql.plan import ID_LOOKUPS, Planner, directive_variables
from api.settings import Settings
from db.compile import NotCompilable, Statement, compile_query
from db.database import Database, DatabaseUnavailable
from schema.graphql.core import core_schema
from schema.graphql.scalars import from_global_id, to_global_id

log = logging.getLogger("claims.graphql")

DEFAULT_CONNECTION_SIZE = 20
LIST_WEIGHT = 5  # what an unpaginated list (speakers, appearances…) is assumed to hold, for cost


@dataclass
class Prepared:
    """A parsed and validated document, or the errors that stop it."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    fragments: dict[str, FragmentDefinitionNode]
    directive_variables: frozenset[str] = frozenset()
    size_variables: tuple[str, ...] = ()  # variables given as `first`/`last`: all `_cost` reads


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


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class Executor:
    """The /graphql engine for one app."""

    def __init__(self, schema: Any, settings: Settings) -> None:
        self.schema = schema
        self.gql = core_schema(schema)
        self.settings = settings
        self.documents: LRUCache[Any, Any] = LRUCache(1000)
        self.plans: LRUCache[Any, Any] = LRUCache(2000)
        self.skeletons: LRUCache[Any, Any] = LRUCache(1000)
        self.costs: LRUCache[Any, Any] = LRUCache(2000)
        self.templates: LRUCache[Any, Any] = LRUCache(1000)  # (query, operation) → IdTemplate or False
        self.rules = list(specified_rules)
        self.hide_suggestions = not settings.graphql_introspection  # "Did you mean …?" reveals the schema
        if not settings.graphql_introspection:
            self.rules.append(NoSchemaIntrospectionCustomRule)
        self.persisted = PersistedQueries(settings.graphql_trusted_documents)

    # -- preparing -----------------------------------------------------------------------

    def prepare(self, query: str) -> Prepared:
        cached: Prepared | None = self.documents.get(query)
        if cached is None:
            cached = self._prepare(query)
            self.documents[query] = cached
        return cached

    def _prepare(self, query: str) -> Prepared:
        s = self.settings
        try:
            document = parse(query, max_tokens=s.graphql_max_tokens)
        except GraphQLSyntaxError as exc:
            code = "TOKEN_LIMIT" if "tokens" in exc.message else "GRAPHQL_PARSE_FAILED"
            return Prepared(None, [_error(exc.message, code)], {})
        errors = validate(self.gql, document, self.rules, hide_suggestions=self.hide_suggestions)
        if errors:
            return Prepared(None, [_error(e.message, "GRAPHQL_VALIDATION_FAILED") for e in errors[:20]], {})
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        aliases = sum(1 for _ in _aliases(document))
        if aliases > s.graphql_max_aliases:
            return Prepared(
                None,
                [_error(f"{aliases} aliases exceed the limit of {s.graphql_max_aliases}", "ALIAS_LIMIT")],
                {},
            )
        for op in document.definitions:
            if isinstance(op, OperationDefinitionNode):
                depth = _depth(op.selection_set, fragments, 0)
                if depth > s.graphql_max_depth:
                    return Prepared(
                        None,
                        [
                            _error(
                                f"query depth {depth} exceeds the limit of {s.graphql_max_depth}",
                                "DEPTH_LIMIT",
                            )
                        ],
                        {},
                    )
        return Prepared(document, [], fragments, directive_variables(document), _size_variables(document))

    # -- running -------------------------------------------------------------------------

    async def run(
        self,
        db: Database,
        body: dict[str, Any],
        context: Any,
        allow_mutations: bool = True,
        *,
        graphql_response: bool = False,
    ) -> tuple[bytes, int]:
        """(response JSON, HTTP status) for one request body.

        The status follows GraphQL over HTTP: a request that is not well-formed is a 400, a mutation
        over GET a 405, a subscription (which needs the websocket) a 400; a request error (the
        document does not parse or validate, its variables do not fit, no such operation, a limit)
        is a 400 when the client accepts ``application/graphql-response+json``
        (``graphql_response``) and a 200 for ``application/json``, as older clients expect.
        """
        refused = 400 if graphql_response else 200  # the status of a GraphQL request error
        try:
            query = self.persisted.query_of(body)
        except Refused as exc:
            return _errors([exc.error]), 400 if exc.code == "BAD_REQUEST" else refused
        if query is not body.get("query"):
            body = {**body, "query": query}
        variables = body.get("variables")
        if variables is None:
            variables = {}
        operation_name = body.get("operationName")
        if not isinstance(query, str) or not query.strip():
            return _errors([_error("the request needs a `query` string", "BAD_REQUEST")]), 400
        if not isinstance(variables, dict):
            return _errors([_error("`variables` must be an object", "BAD_REQUEST")]), 400
        if operation_name is not None and not isinstance(operation_name, str):
            return _errors([_error("`operationName` must be a string", "BAD_REQUEST")]), 400
        template = self.templates.get((query, operation_name))
        if template:  # an item page: the same statement for every id
            plan = template.bind(variables)
            if plan is not None:
                return await self.answer(db, plan, body, context), 200
        try:
            key = (query, operation_name, orjson.dumps(variables, option=orjson.OPT_SORT_KEYS))
        except orjson.JSONEncodeError:  # nested past orjson's 254 levels: no input here is that deep
            return _errors([_error("`variables` are nested too deeply", "BAD_REQUEST")]), 400
        plan = self.plans.get(key)
        if plan:  # seen before with these very variables: validated, within limits, compiled
            return await self.answer(db, plan, body, context), 200
        prepared = self.prepare(query)
        if prepared.document is None:
            return _errors(prepared.errors), refused
        operation = _operation(prepared.document, operation_name)
        if operation is None:
            message = "no operation with that name (or several without operationName)"
            return _errors([_error(message, "OPERATION_RESOLUTION_FAILURE")]), refused
        if operation.operation == OperationType.MUTATION and not allow_mutations:
            return _errors([_error("mutations need POST", "BAD_REQUEST")]), 405
        if operation.operation == OperationType.SUBSCRIPTION:
            message = "subscriptions run over the websocket at /graphql (graphql-transport-ws), not over HTTP"
            return _errors([_error(message, "BAD_REQUEST")]), 400
        coerced = get_variable_values(
            self.gql, operation.variable_definitions or [], variables, hide_suggestions=self.hide_suggestions
        )
        if isinstance(coerced, list):
            return _errors([_error(e.message, "BAD_USER_INPUT") for e in coerced]), refused
        cost_key = (query, operation_name, *(coerced.coerced.get(v) for v in prepared.size_variables))
        cost = self.costs.get(cost_key)
        if cost is None:
            cost = _cost(operation.selection_set, prepared.fragments, coerced.coerced)
            self.costs[cost_key] = cost
        if cost > self.settings.graphql_max_cost:
            message = (
                f"query cost {cost} exceeds the limit of {self.settings.graphql_max_cost} "
                "(page sizes multiply down the nesting)"
            )
            return _errors([_error(message, "COST_LIMIT")]), refused
        if operation.operation == OperationType.QUERY and plan is None:
            plan = self.compile(prepared, operation, operation_name, query, coerced)
            self.plans[key] = plan
            if isinstance(plan, Statement):
                if template is None:
                    template = self.id_template(prepared, operation, operation_name, query)
                    self.templates[(query, operation_name)] = template or False
                return await self.answer(db, plan, body, context), 200
        return await self.ordinary(query, variables, operation_name, context), 200

    def compile(
        self,
        prepared: Prepared,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        query: str,
        coerced: VariableValues,
    ) -> Statement | bool:
        """The compiled statement, or False when the compiler does not handle this operation.

        The collected fields (the skeleton) are cached per document, operation and the values
        of the variables @skip/@include read; only the arguments are interpreted per request.
        """
        planner = Planner(self.gql, operation, prepared.fragments, coerced)
        directives = tuple(orjson.dumps(coerced.coerced.get(v)) for v in sorted(prepared.directive_variables))
        skel_key = (query, operation_name, directives)
        try:
            skeleton = self.skeletons.get(skel_key)
            if skeleton is None:
                skeleton = planner.skeleton()
                self.skeletons[skel_key] = skeleton
            return compile_query(planner.plan(skeleton))
        except NotCompilable as exc:
            log.debug("not compiled: %s", exc)
            return False

    def id_template(
        self,
        prepared: Prepared,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        query: str,
    ) -> IdTemplate | None:
        """The operation's `IdTemplate`, when its variables are all ids of root look-ups.

        The places of the ids are found by compiling with three other sets of ids (after this
        request's own compile, so the kept SQL of its argument-free fields is in place): the
        statement must not change, and exactly the parameters that change must hold the ids.
        """
        types = _id_variables(operation, prepared.fragments)
        if not types:
            return None
        samples = [{name: 1 + i + n * len(types) for i, name in enumerate(types)} for n in range(3)]  # all distinct
        compiled = []
        for ids in samples:
            values = {name: to_global_id(types[name], row_id) for name, row_id in ids.items()}
            other = get_variable_values(self.gql, operation.variable_definitions or [], values)
            if isinstance(other, list):
                return None
            result = self.compile(prepared, operation, operation_name, query, other)
            if not isinstance(result, Statement):
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

    async def answer(self, db: Database, plan: Statement, body: dict[str, Any], context: Any) -> bytes:
        """The compiled answer. Should PostgreSQL refuse the statement (a value it cannot take, or a
        compiler bug), the ordinary path answers instead: the same masked errors, never a 500."""
        try:
            row = await db.fetchrow(plan.sql, *plan.params)  # PostgreSQL returns the document's parts
            return plan.document(row)  # type: ignore[arg-type]  # a SELECT without FROM: always one row
        except DatabaseUnavailable:
            raise
        except Exception:
            log.exception("compiled statement failed; answering the ordinary way")
            return await self.ordinary(body["query"], body.get("variables") or {}, body.get("operationName"), context)

    async def ordinary(self, query: str, variables: dict[str, Any], operation_name: str | None, context: Any) -> bytes:
        """Strawberry's own resolution (mutations, and what the compiler does not handle).

        ``context`` may be a function making it: compiled answers never need one (nor its loaders).
        """
        if callable(context):
            context = context()
        result = await self.schema.execute(
            query, variable_values=variables, context_value=context, operation_name=operation_name
        )
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        out["data"] = result.data
        return orjson.dumps(out, default=str)


def _errors(errors: list[GraphQLError]) -> bytes:
    return orjson.dumps({"errors": [e.formatted for e in errors]})


def _id_variables(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
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
            type_name = ID_LOOKUPS.get(sel.name.value)
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


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return ops[0] if len(ops) == 1 else None
    return next((o for o in ops if o.name and o.name.value == name), None)


def _aliases(node: Any) -> Any:
    for definition in node.definitions:
        yield from _aliases_in(definition.selection_set)


def _aliases_in(selection_set: SelectionSetNode | None) -> Any:
    if selection_set is None:
        return
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode) and sel.alias is not None:
            yield sel
        yield from _aliases_in(getattr(sel, "selection_set", None))


def _depth(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], level: int) -> int:
    if selection_set is None or level > 100:
        return level
    deepest = level
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value.startswith("__"):
                continue
            deepest = max(deepest, _depth(sel.selection_set, fragments, level + 1))
        elif isinstance(sel, InlineFragmentNode):
            deepest = max(deepest, _depth(sel.selection_set, fragments, level))
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            deepest = max(deepest, _depth(fragments[sel.name.value].selection_set, fragments, level))
    return deepest


def _size_variables(document: DocumentNode) -> tuple[str, ...]:
    """Names of the variables given as ``first`` or ``last``, sorted: the only ones `_cost` reads."""
    names: set[str] = set()

    class Visitor(GraphQLVisitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            if node.name.value in ("first", "last") and isinstance(node.value, VariableNode):
                names.add(node.value.name.value)

    visit(document, Visitor())
    return tuple(sorted(names))


def _size(field: FieldNode, variables: dict[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value in ("first", "last"):
            if isinstance(arg.value, IntValueNode):
                return int(arg.value.value)
            if isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
                return int(value) if isinstance(value, int) else None
    return None


CONNECTIONS = {"claims", "mentionedIn", "entities", "sources"}
LISTS = {
    "speakers",
    "appearances",
    "mentions",
    "topics",
    "relatedClaims",
    "aliases",
    "roles",
    "authors",
    "cites",
    "externalIds",
    "nodes",
    "search",
}


def _cost(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    depth: int = 0,
) -> int:
    """Fields weighted by the page sizes above them: ``claims(first: 50) { speakers { … } }`` ≈ 50 × 5 × …"""
    if selection_set is None or depth > 100:
        return 0
    total = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            name = sel.name.value
            size = _size(sel, variables)
            if name in CONNECTIONS:
                factor = size if size is not None else DEFAULT_CONNECTION_SIZE
            elif name in LISTS:
                factor = size if size is not None else LIST_WEIGHT
            else:
                factor = 1
            total += 1 + max(factor, 1) * _cost(sel.selection_set, fragments, variables, depth + 1)
        elif isinstance(sel, InlineFragmentNode):
            total += _cost(sel.selection_set, fragments, variables, depth)
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            total += _cost(fragments[sel.name.value].selection_set, fragments, variables, depth + 1)
    return total
