"""Running a GraphQL request: limits, then one compiled SQL statement.

Every read goes through db/compile.py: a query is planned from its fields' declarations
(schema/graphql/plan.py) and answered by one statement; mutations and subscriptions run their
resolvers through Strawberry, which read what they answer through `Executor.read_fields` /
`read_object` — compiled the same way. Documents are parsed and validated once and cached by their
text; compiled statements are cached per (document, operation, variables). Limits (tokens, depth,
aliases, cost — the cost from the declarations) apply to every operation.

Item pages (only ids of root look-ups as variables) are compiled once into an `IdTemplate`
(api/graphql/templates.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import VariableValues, get_variable_values
from graphql.validation import NoSchemaIntrospectionCustomRule

from api.graphql.persisted import PersistedQueries, Refused
from api.graphql.templates import IdTemplate, id_template
from api.settings import Settings
from db import graph
from db.compile import Sel, Statement, compile_query
from db.database import Database, DatabaseUnavailable
from schema.graphql.core import core_schema
from schema.graphql.plan import Planner, declarations, directive_variables

log = logging.getLogger("claims.graphql")


@dataclass
class Prepared:
    """A parsed and validated document, or the errors that stop it."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    fragments: dict[str, FragmentDefinitionNode]
    directive_variables: frozenset[str] = frozenset()


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class OverCost(Exception):
    """The operation costs more than the settings allow: a request error (``error``)."""

    def __init__(self, error: GraphQLError) -> None:
        super().__init__(error.message)
        self.error = error


INTERNAL = (
    b'{"errors": [{"message": "Internal error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}], "data": null}'
)


def _answered(errors: list[GraphQLError]) -> Statement:
    """The answer of an operation whose ``data`` is null: nothing to read."""
    return Statement("", [], (orjson.dumps({"errors": [e.formatted for e in errors], "data": None}),))


def _with_errors(statement: Statement, errors: list[GraphQLError]) -> Statement:
    """The statement's answer with ``errors`` before its ``data``."""
    if not errors:
        return statement
    head = b'{"errors" : ' + orjson.dumps([e.formatted for e in errors]) + b", " + statement.pieces[0][1:]
    return Statement(statement.sql, statement.params, (head, *statement.pieces[1:]))


class Executor:
    """The /graphql engine for one app."""

    def __init__(self, schema: Any, settings: Settings) -> None:
        self.schema = schema
        self.gql = core_schema(schema)
        self.settings = settings
        self.store = declarations(schema, self.gql)
        query_type = self.gql.query_type
        assert query_type is not None
        self.id_lookups = {  # root look-ups by the id of one type: `claim(id:)` → Claim
            name: str(get_named_type(query_type.fields[name].type))
            for (parent, name), d in self.store.items()
            if parent == "Query" and isinstance(d.store, graph.ById) and d.store.table is not None
        }
        self.documents: LRUCache[Any, Any] = LRUCache(1000)
        self.plans: LRUCache[Any, Any] = LRUCache(2000)
        self.skeletons: LRUCache[Any, Any] = LRUCache(1000)
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
        return Prepared(document, [], fragments, directive_variables(document))

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
        try:
            if operation.operation == OperationType.QUERY:
                plan = self.compile(prepared, operation, operation_name, query, coerced)
            else:  # a mutation: what it answers is planned before it writes
                plan = self.check(prepared, operation, coerced)
        except OverCost as exc:
            return _errors([exc.error]), refused
        if operation.operation == OperationType.QUERY:
            self.plans[key] = plan
            if template is None and plan.sql and b'"errors"' not in plan.pieces[0]:
                template = self.id_template(prepared, operation, operation_name, query)
                self.templates[(query, operation_name)] = template or False
            return await self.answer(db, plan, body, context), 200
        if plan is not None:  # an argument it selects is refused: nothing is written
            return plan.document(()), 200
        return await self.execute(query, variables, operation_name, context), 200

    def planner(self, prepared: Prepared, operation: OperationDefinitionNode, coerced: VariableValues) -> Planner:
        return Planner(self.gql, self.store, operation, prepared.fragments, coerced)

    def compile(
        self,
        prepared: Prepared,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        query: str,
        coerced: VariableValues,
    ) -> Statement:
        """The compiled statement, with the errors of refused arguments (`OverCost` over the limit).

        The collected fields (the skeleton) are cached per document, operation and the values
        of the variables @skip/@include read; only the arguments are interpreted per request.
        """
        planner = self.planner(prepared, operation, coerced)
        directives = tuple(orjson.dumps(coerced.coerced.get(v)) for v in sorted(prepared.directive_variables))
        skel_key = (query, operation_name, directives)
        skeleton = self.skeletons.get(skel_key)
        if skeleton is None:
            skeleton = planner.skeleton()
            self.skeletons[skel_key] = skeleton
        sels = planner.plan(skeleton)
        self.within_cost(planner, sels)
        if sels is None:
            return _answered(planner.errors)
        return _with_errors(compile_query(sels), planner.errors)

    def within_cost(self, planner: Planner, sels: list[Sel] | None) -> None:
        """`OverCost` when the plan costs more than the settings allow."""
        cost = planner.cost(sels or [])
        if cost > self.settings.graphql_max_cost:
            message = (
                f"query cost {cost} exceeds the limit of {self.settings.graphql_max_cost} "
                "(page sizes multiply down the nesting)"
            )
            raise OverCost(_error(message, "COST_LIMIT"))

    def check(
        self, prepared: Prepared, operation: OperationDefinitionNode, coerced: VariableValues
    ) -> Statement | None:
        """A mutation's reads planned before it runs: the answer refusing it (an argument error in
        what it selects), else None; `OverCost` over the cost limit."""
        planner = self.planner(prepared, operation, coerced)
        sels = planner.root()
        self.within_cost(planner, sels)
        return _answered(planner.errors) if planner.errors else None

    def id_template(
        self, prepared: Prepared, operation: OperationDefinitionNode, operation_name: str | None, query: str
    ) -> IdTemplate | None:
        """The operation's `IdTemplate`, when its variables are all ids of root look-ups."""

        def compile_with(ids: dict[str, str]) -> Statement | None:
            coerced = get_variable_values(self.gql, operation.variable_definitions or [], ids)
            if isinstance(coerced, list):
                return None
            try:
                return self.compile(prepared, operation, operation_name, query, coerced)
            except OverCost:
                return None

        return id_template(operation, prepared.fragments, self.id_lookups, compile_with)

    async def answer(self, db: Database, plan: Statement, body: dict[str, Any], context: Any) -> bytes:
        """The compiled answer. Should PostgreSQL refuse the statement (a value it cannot take, or a
        compiler bug), the answer is a masked internal error, never a 500."""
        if not plan.sql:
            return plan.document(())
        try:
            row = await db.fetchrow(plan.sql, *plan.params)  # PostgreSQL returns the document's parts
            return plan.document(row)  # type: ignore[arg-type]  # a SELECT without FROM: always one row
        except DatabaseUnavailable:
            raise
        except Exception:
            log.exception("compiled statement failed")
            return INTERNAL

    async def execute(self, query: str, variables: dict[str, Any], operation_name: str | None, context: Any) -> bytes:
        """Strawberry's own execution: mutations run their writes, and read what they answer through
        this executor (`read_fields`).

        ``context`` may be a function making it: compiled answers never need one.
        """
        if callable(context):
            context = context()
        context.reader = self
        result = await self.schema.execute(
            query, variable_values=variables, context_value=context, operation_name=operation_name
        )
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        out["data"] = result.data
        return orjson.dumps(out, default=str)

    # -- reads for resolvers (schema.graphql.context.Reader) ---------------------------------

    async def read_fields(self, db: Database, info: Any, type_name: str, ids: Mapping[str, Any]) -> dict[str, Any]:
        planner = self.resolver_planner(info)
        return await self.read(db, planner, planner.reads(info.path.key, type_name, dict(ids)))

    async def read_object(self, db: Database, info: Any, row_id: int) -> Any:
        planner = self.resolver_planner(info)
        return (await self.read(db, planner, planner.read(info.path.key, row_id))).get(info.path.key)

    def resolver_planner(self, info: Any) -> Planner:
        """A planner for the operation a resolver runs in (Strawberry's public `Info`)."""
        prepared = self.prepare(info.query)
        fragments = prepared.fragments
        if prepared.document is None:  # over a limit of this endpoint, but run (a websocket): its own fragments
            document = parse(info.query)
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        return Planner(self.gql, self.store, info.operation, fragments, VariableValues({}, dict(info.variable_values)))

    @staticmethod
    async def read(db: Database, planner: Planner, sels: list[Sel] | None) -> dict[str, Any]:
        """The JSON ``data`` of compiled reads, by response key."""
        if sels is None:
            raise planner.errors[0]
        statement = compile_query(sels)
        row = await db.fetchrow(statement.sql, *statement.params) if statement.sql else ()
        data: dict[str, Any] = orjson.loads(statement.document(row or ()))["data"]  # type: ignore[arg-type]
        return data


def _errors(errors: list[GraphQLError]) -> bytes:
    return orjson.dumps({"errors": [e.formatted for e in errors]})


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
