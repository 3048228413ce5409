"""Every query, however it is written, is answered by one SQL statement (db/compile.py).

hypothesis writes documents from the schema itself — random selections over every object type,
nested connections, filters, aliases, named and inline fragments, variables, @include/@skip — and
each must come back as well-formed JSON from at most one statement, never an internal error;
schemathesis then fuzzes /graphql from the SDL alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import schemathesis
from fastapi import FastAPI
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLObjectType,
    Undefined,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.graphql import nodes

from api.app import create_app
from api.graphql.executor import Executor
from api.settings import Settings
from db.claims import delete_claim
from db.database import Database
from db.demo_data import load_demo
from db.entities import merge_entity
from db.filters import Cursor
from db.migrate import migrate
from schema.graphql.core import core_schema
from schema.graphql.scalars import to_global_id
from tests.corpus import load_corpus
from tests.helpers import TABLES
from tests.rest_helpers import document, quote, write

GENERATED = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
MAX_LEVEL = 6  # object nesting the generator goes to (the depth limit is 12)


@dataclass
class Pool:
    """Values worth passing as arguments: ids and cursors that exist, and a few that do not."""

    ids: dict[str, list[int]]
    slugs: list[str]
    cursors: dict[str, list[str]]  # per connection: claims, entities, sources


async def pool_of(db: Database) -> Pool:
    tables = {
        "Claim": "claim",
        "Entity": "entity",
        "Source": "source",
        "Topic": "topic",
        "Appearance": "appearance",
        "EntityRole": "entity_role",
    }
    ids = {t: [r["id"] for r in await db.fetch(f"SELECT id FROM {table} ORDER BY id")] for t, table in tables.items()}
    slugs = [r["slug"] for r in await db.fetch("SELECT slug FROM topic ORDER BY slug")]
    rows = await db.fetch("SELECT id, said_key::text AS s, reported_key::text AS r FROM claim ORDER BY id")
    claims = [Cursor("-said_at", r["s"], r["id"]).encode() for r in rows]
    claims += [Cursor("said_at", r["s"], r["id"]).encode() for r in rows[:3]]
    claims += [Cursor("-reported_at", r["r"], r["id"]).encode() for r in rows[:3]]
    entities = [Cursor("entities", str(i), i).encode() for i in ids["Entity"]]
    rows = await db.fetch("SELECT id, coalesce(published_at, '-infinity')::text AS k FROM source ORDER BY id")
    sources = [Cursor("sources", r["k"], r["id"]).encode() for r in rows]
    return Pool(ids, slugs, {"Claim": claims, "Entity": claims, "Source": claims, "entities": entities,
                             "sources": sources})  # fmt: skip


def gql_string(value: str) -> str:
    return orjson.dumps(value).decode()


@dataclass
class Writer:
    """Builds one document while hypothesis draws its parts."""

    draw: st.DrawFn
    pool: Pool
    variables: dict[str, Any] = field(default_factory=dict)
    definitions: list[str] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)
    n: int = 0
    budget: int = 40  # fields left to write: documents stay small enough to read when one fails

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # -- argument values: (GraphQL literal, JSON value) -------------------------------------------

    def gid(self, type_name: str) -> str:
        choice = self.draw(st.integers(0, 9))
        rows = self.pool.ids.get(type_name) or [1]
        if choice == 0:
            return to_global_id(type_name, 999_999)
        if choice == 1 and type_name != "any":
            return str(self.draw(st.sampled_from(rows)))  # a plain row id
        return to_global_id(type_name, self.draw(st.sampled_from(rows)))

    def any_gid(self) -> str:
        type_name = self.draw(st.sampled_from(sorted(self.pool.ids)))
        rows = self.pool.ids[type_name] or [1]
        return to_global_id(type_name, self.draw(st.sampled_from(rows))) if self.draw(st.integers(0, 9)) else "11"

    def claim_filter(self) -> dict[str, Any]:
        d = self.draw
        out: dict[str, Any] = {}
        for name, make in [
            ("speakers", lambda: [self.gid("Entity") for _ in range(d(st.integers(1, 3)))]),
            ("mentions", lambda: [self.gid("Entity") for _ in range(d(st.integers(1, 2)))]),
            ("topics", lambda: d(st.lists(st.sampled_from([*self.pool.slugs, "nope"]), min_size=1, max_size=2))),
            ("sources", lambda: [self.gid("Source") for _ in range(d(st.integers(1, 2)))]),
            ("reportedBy", lambda: [self.gid("Entity") for _ in range(d(st.integers(1, 2)))]),
            ("saidAfter", lambda: d(st.sampled_from(["2025-11-21", "2025-11-23T14:30:00Z", "2025-01-01"]))),
            ("saidBefore", lambda: d(st.sampled_from(["2025-11-24", "2025-11-21T00:00:00+00:00", "2026-01-01"]))),
            ("reportedAfter", lambda: d(st.sampled_from(["2025-11-22", "2025-11-24T18:45:10.25Z"]))),
            ("reportedBefore", lambda: d(st.sampled_from(["2025-11-25", "2025-11-26T00:00:01Z"]))),
            ("kind", lambda: d(st.lists(st.sampled_from(["DIRECT_QUOTE", "PARAPHRASE", "PARTIAL_QUOTE"]), max_size=2))),
            ("language", lambda: d(st.lists(st.sampled_from(["en", "de", "fr"]), min_size=1, max_size=2))),
            ("search", lambda: d(st.sampled_from(["security", "peace talks", "guarantees -borders", "Ukraine"]))),
        ]:
            if d(st.integers(0, 5)) == 0:
                out[name] = make()
        return out

    def value(self, parent: str, field_name: str, arg: GraphQLArgument, arg_name: str) -> Any:
        """A JSON value for one argument (None: leave it out)."""
        d = self.draw
        named = get_named_type(arg.type)
        match arg_name:
            case "first" | "last":
                return d(st.integers(-1, 12)) if d(st.integers(0, 12)) else 101
            case "after" | "before":
                cursors = self.pool.cursors.get(parent if parent in ("Entity", "Source") else "Claim", [])
                if parent == "Query" and field_name != "claims":
                    cursors = self.pool.cursors[field_name]
                return d(st.sampled_from(cursors)) if d(st.integers(0, 12)) else "bm9wZQ"
            case "filter":
                return self.claim_filter()
            case "id" if field_name == "node":
                return self.any_gid()
            case "id":
                return self.gid(field_name.capitalize())
            case "ids":
                return [self.any_gid() for _ in range(d(st.integers(0, 4)))]
            case "search":
                return d(st.sampled_from(["mer", "Rubio", "tass", "zelensk", "Secretary R", "", "xyz"]))
            case "query":
                return d(st.sampled_from(["security", "Merz", "peace talks", "ukraine guarantees", "zzz", "-"]))
            case "publisher":
                return self.gid("Entity")
            case "publishedAfter" | "publishedBefore":
                return d(st.sampled_from(["2025-11-22", "2025-11-24T18:45:10.25Z", "2025-11-26"]))
        if isinstance(named, GraphQLEnumType):
            return d(st.sampled_from(sorted(named.values)))
        return None

    def arguments(self, parent: str, field_name: str, args: dict[str, GraphQLArgument]) -> str:
        d = self.draw
        parts = []
        for arg_name, arg in args.items():
            required = is_non_null_type(arg.type) and arg.default_value is Undefined
            if not required and arg.default_value not in (None, Undefined) and d(st.integers(0, 2)) != 0:
                continue
            if not required and not d(st.booleans()):
                continue
            both_ways = arg_name in ("last", "before") and any(p.startswith(("first", "after")) for p in parts)
            if both_ways and d(st.integers(0, 5)) != 0:
                continue  # both directions at once is an error: only now and then
            value = self.value(parent, field_name, arg, arg_name)
            if value is None:
                continue
            if d(st.integers(0, 3)) == 0:
                var = self.fresh("v")
                self.definitions.append(f"${var}: {arg.type}")
                if required or d(st.integers(0, 5)):
                    self.variables[var] = value  # else left out: the argument takes its default
                parts.append(f"{arg_name}: ${var}")
            elif isinstance(value, dict) and value and d(st.booleans()):
                parts.append(f"{arg_name}: {self.object_with_variables(value, get_named_type(arg.type))}")
            else:
                parts.append(f"{arg_name}: {self.literal(value, get_named_type(arg.type))}")
        return f"({', '.join(parts)})" if parts else ""

    def object_with_variables(self, value: dict[str, Any], named: Any) -> str:
        """An input object literal whose fields are variables: ``{speakers: $v3, search: $v4}``."""
        parts = []
        for k, v in value.items():
            var = self.fresh("v")
            self.definitions.append(f"${var}: {named.fields[k].type}")
            self.variables[var] = v
            parts.append(f"{k}: ${var}")
        return "{" + ", ".join(parts) + "}"

    def literal(self, value: Any, named: Any) -> str:
        if isinstance(value, dict):
            fields = named.fields
            return (
                "{"
                + ", ".join(f"{k}: {self.literal(v, get_named_type(fields[k].type))}" for k, v in value.items())
                + "}"
            )
        if isinstance(value, list):
            return "[" + ", ".join(self.literal(v, named) for v in value) + "]"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(named, GraphQLEnumType):
            return str(value)
        return gql_string(value)

    # -- selections ---------------------------------------------------------------------------

    def directive(self) -> str:
        d = self.draw
        if d(st.integers(0, 7)) != 0:
            return ""
        name = d(st.sampled_from(["include", "skip"]))
        if d(st.booleans()):
            var = self.fresh("b")
            self.definitions.append(f"${var}: Boolean!")
            self.variables[var] = d(st.booleans())
            return f" @{name}(if: ${var})"
        return f" @{name}(if: {'true' if d(st.booleans()) else 'false'})"

    def selection(self, type_: GraphQLObjectType, level: int, aliased: bool = False) -> str:
        """A selection set on ``type_``; ``aliased`` gives every field an alias of its own (inline
        fragments on different types may not reuse a key with another type)."""
        d = self.draw
        names = sorted(type_.fields)
        self.budget -= 1
        if level >= MAX_LEVEL or self.budget <= 0:
            names = [n for n in names if is_leaf_type(get_named_type(type_.fields[n].type))]
        chosen = d(st.lists(st.sampled_from([*names, "__typename"]), min_size=1, max_size=5, unique=True))
        parts = []
        for name in chosen:
            self.budget -= 1
            if name == "__typename":
                parts.append("__typename")
                continue
            field_def = type_.fields[name]
            named = get_named_type(field_def.type)
            args = self.arguments(type_.name, name, field_def.args) if field_def.args else ""
            alias = f"{self.fresh('k')}: " if aliased or args or d(st.integers(0, 4)) == 0 else ""
            sub = ""
            if is_object_type(named):
                sub = " { " + self.selection(named, level + 1) + " }"
            elif is_abstract_type(named):
                sub = " { " + self.abstract(named, level + 1) + " }"
            parts.append(f"{alias}{name}{args}{self.directive()}{sub}")
        parts += self.fragment_spreads(type_, level)
        if level < MAX_LEVEL and self.budget > 0 and d(st.integers(0, 5)) == 0:
            parts.append(f"... on {type_.name} {{ {self.selection(type_, level + 1, aliased=True)} }}")
        return " ".join(parts)

    def fragment_spreads(self, type_: GraphQLObjectType, level: int) -> list[str]:
        if level >= MAX_LEVEL - 1 or self.budget <= 0 or self.draw(st.integers(0, 5)) != 0:
            return []
        name = self.fresh("F")
        self.fragments.append(f"fragment {name} on {type_.name} {{ {self.selection(type_, level + 1, aliased=True)} }}")
        return [f"...{name}{self.directive()}"]

    def abstract(self, type_: Any, level: int) -> str:
        from schema.graphql.schema import schema

        possible = sorted(t.name for t in core_schema(schema).get_possible_types(type_))
        chosen = self.draw(st.lists(st.sampled_from(possible), min_size=0, max_size=3, unique=True))
        gql = core_schema(schema)
        parts = ["__typename"] if not chosen or self.draw(st.booleans()) else []
        for name in chosen:
            parts.append(f"... on {name} {{ {self.selection(gql.type_map[name], level, aliased=True)} }}")
        if self.draw(st.integers(0, 3)) == 0 and type_.name == "Node":
            parts.append("id")
        return " ".join(parts)


@st.composite
def documents(draw: st.DrawFn, pool: Pool, query_type: GraphQLObjectType) -> tuple[str, dict[str, Any], str | None]:
    """A query document, its variables, and the operation to run (None: its only one)."""
    w = Writer(draw, pool)
    body = w.selection(query_type, 0)
    header = f"query Q({', '.join(w.definitions)})" if w.definitions else "query Q"
    operations = [f"{header} {{ {body} }}"]
    name = None
    if draw(st.integers(0, 4)) == 0:  # another operation beside it: operationName picks
        operations.insert(draw(st.integers(0, 1)), "query Other { topics { slug } }")
        name = "Q"
    return "\n".join([*operations, *w.fragments]), w.variables, name


async def answered(
    executor: Executor, db: Database, query: str, variables: dict[str, Any], name: str | None
) -> tuple[Any, list[str]]:
    """The answer to a query, and the statements it took."""
    body = {"query": query, "variables": variables, "operationName": name}
    seen: list[str] = []
    db.statement_listeners.append(seen.append)
    try:
        answer, status = await executor.run(db, body, None)
    finally:
        db.statement_listeners.remove(seen.append)
    assert status == 200, answer
    return orjson.loads(answer), seen


async def loaded(db: Database) -> None:
    """The demo article, the generated corpus, two deleted claims and a merged entity."""
    if await db.fetchval("SELECT count(*) FROM claim"):
        return
    await load_demo(db)
    await load_corpus(db)
    async with db.transaction() as tx:
        for claim_id in (5, 20):
            await delete_claim(tx, claim_id, None, "a test deletes it")
    names = {r["name"]: r["id"] for r in await db.fetch("SELECT id, name FROM entity")}
    await merge_entity(db, names["Keir Starmer"], names["Emmanuel Macron"])


@GENERATED
@given(data=st.data())
async def test_every_generated_query_is_one_statement_and_never_an_internal_error(
    app: FastAPI, db: Database, data: st.DataObject
) -> None:
    await loaded(db)
    executor: Executor = app.state.graphql
    pool = await pool_of(db)
    query, variables, name = data.draw(documents(pool, executor.gql.query_type), label="document")
    prepared = executor.prepare(query)
    assume(prepared.document is not None)  # over a limit, or fields that cannot merge: not this test's business
    answer, statements = await answered(executor, db, query, variables, name)
    assert len(statements) <= 1, statements
    codes = {e.get("extensions", {}).get("code") for e in answer.get("errors", [])}
    assert codes <= {"BAD_USER_INPUT", "COST_LIMIT"}, answer["errors"]
    if not codes:
        assert answer["data"] is not None, query


HOSTILE = 'said "no" \\ back\\slash\nnew line\ttab \u0001\u001f \u2028 ü 😀 </script>'


async def test_texts_that_need_escaping_come_back_as_they_went_in(app: FastAPI, db: Database) -> None:
    """The compiled path reads content, names, titles, URLs and quotes already escaped (the ``*_json``
    columns, db/migrations/0003): every character JSON escapes comes back as it went in."""
    url = 'https://x.example/a"b\\c?q=ü'
    name = 'O"Brien \\ ' + HOSTILE[:40] + " Jr."
    await write(
        db,
        document(
            url,
            {**quote(HOSTILE, {"name": name, "kind": "person"}), "appearance": {"quote": HOSTILE[5:]}},
            publisher={"name": 'The "Daily"\tPaper', "kind": "organization"},
            title="Title " + HOSTILE,
        ),
    )
    claim_id = await db.fetchval("SELECT id FROM claim WHERE content = $1", HOSTILE)
    query = """query ($id: ID!) { claim(id: $id) { content speakers { entity { name } }
      appearances { quote source { title url publisher { name } } } } }"""
    executor: Executor = app.state.graphql
    answer, _ = await answered(executor, db, query, {"id": to_global_id("Claim", claim_id)}, None)
    claim = answer["data"]["claim"]
    source = claim["appearances"][0]["source"]
    assert claim["content"] == HOSTILE
    assert claim["speakers"][0]["entity"]["name"] == name
    assert claim["appearances"][0]["quote"] == HOSTILE[5:]
    assert (source["title"], source["publisher"]["name"]) == ("Title " + HOSTILE, 'The "Daily"\tPaper')
    from_source = "SELECT url FROM source WHERE id = (SELECT source_id FROM appearance WHERE claim_id = $1)"
    stored = await db.fetchval(from_source, claim_id)
    assert source["url"] == stored and '"' in stored


# -- schemathesis over /graphql, from the SDL, with introspection off --------------------------------
#
# As in tests/test_schemathesis.py: schemathesis runs the app in its own event-loop thread, so the app
# has a database of its own, opened there on the first request (with the demo data), once the
# session's test database is known. The schema comes from schema/schema.graphql, which is how a
# client works against a server whose introspection is switched off.

SDL = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"
ST_DATABASE = Database(
    "postgresql://set-by-the-st_database-fixture", statement_timeout_ms=20_000, min_size=1, max_size=4
)
ST_SETTINGS = Settings(
    load_demo=False, rate_limit_per_minute=0, database_url="postgresql://unused", graphql_introspection=False
)
ST_APP = create_app(ST_SETTINGS, database=ST_DATABASE)


async def _st_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and ST_DATABASE.pool is None:
        await ST_DATABASE.connect()
        await load_demo(ST_DATABASE)
    await ST_APP(scope, receive, send)


schemathesis.graphql.scalar("JSON", st.just(nodes.Object([])))
st_schema = schemathesis.graphql.from_path(
    SDL, config=SchemathesisConfig.from_dict({"generation": {"max-examples": 8}})
)
st_schema.app = _st_app
st_schema = st_schema.include(name_regex="^Query\\.")


@pytest.fixture(scope="module")
def st_database(server_dsn: str) -> Iterator[None]:
    """Point the schemathesis app at the session's test database (emptied: it loads the demo data)."""

    async def empty() -> None:
        await migrate(server_dsn)
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute(TABLES)
        finally:
            await conn.close()

    asyncio.run(empty())
    ST_DATABASE.dsn = server_dsn
    yield
    if ST_DATABASE.pool is not None:
        from schemathesis.python.asgi import _get_portal

        _get_portal().call(ST_DATABASE.close)


@st_schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_query_is_a_server_error(case: Any, st_database: None) -> None:
    case.call_and_validate(base_url="http://testserver/graphql", checks=[not_a_server_error])
