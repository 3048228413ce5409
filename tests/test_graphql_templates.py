"""Item pages compiled once: an operation whose only variables are ids of root look-ups is kept as
an `IdTemplate`, and every other id is bound into it (api/graphql/templates.py).

Each answer is compared with the answer of a fresh executor, which has no template and coerces,
plans and compiles the request from scratch.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from api.graphql.executor import Executor, IdTemplate
from db.claims import delete_claim
from db.database import Database
from db.demo_data import load_demo
from schema.graphql.context import Context
from schema.graphql.scalars import to_global_id

CLAIM = """query Claim($id: ID!) {
  claim(id: $id) {
    id content saidAt
    speakers { role entity { id name } }
    appearances { quote source { id title publisher { name } } }
  }
}"""

TWO = """query Two($c: ID!, $e: ID!) {
  first: claim(id: $c) { id content }
  again: claim(id: $c) { content speakers { entity { name } } }
  entity(id: $e) { id name claims(first: 2) { edges { node { id } } } }
}"""

SOURCE = """query S($s: ID!) { source(id: $s) { id title claims(first: 3) { edges { node { id } } } } }"""


async def answer(executor: Executor, db: Database, query: str, variables: Any) -> bytes:
    body = {"query": query, "variables": variables}
    payload, status = await executor.run(db, body, lambda: Context(db=db))
    return payload + b" %d" % status


def fresh(app: FastAPI) -> Executor:
    """An executor with empty caches (no template), over the same schema and settings."""
    return Executor(app.state.graphql_schema, app.state.settings)


async def ids(db: Database, table: str) -> list[int]:
    return [r["id"] for r in await db.fetch(f"SELECT id FROM {table} ORDER BY id")]


@pytest.mark.parametrize("query", [CLAIM, TWO, SOURCE])
async def test_every_id_gets_the_answer_compiled_from_scratch(app: FastAPI, db: Database, query: str) -> None:
    await load_demo(db)
    claims, entities, sources = await ids(db, "claim"), await ids(db, "entity"), await ids(db, "source")
    await delete_claim(db, claims[1], None, "a test deletes it")
    executor: Executor = app.state.graphql
    cases = [(c, entities[i % len(entities)], sources[i % len(sources)]) for i, c in enumerate(claims)]
    cases += [(10**9, 10**9, 10**9)]  # ids nothing has
    used = 0
    for claim_id, entity_id, source_id in cases:
        variables = {
            CLAIM: {"id": to_global_id("Claim", claim_id)},
            TWO: {"c": to_global_id("Claim", claim_id), "e": to_global_id("Entity", entity_id)},
            SOURCE: {"s": to_global_id("Source", source_id)},
        }[query]
        template = executor.templates.get((query, None))
        used += isinstance(template, IdTemplate) and template.bind(variables) is not None
        got = await answer(executor, db, query, variables)
        assert got == await answer(fresh(app), db, query, variables), variables
    assert isinstance(executor.templates.get((query, None)), IdTemplate)
    assert used == len(cases) - 1  # every request after the first was bound into the template


async def test_a_plain_decimal_id_is_a_row_id_as_on_the_full_path(app: FastAPI, db: Database) -> None:
    await load_demo(db)
    first = (await ids(db, "claim"))[0]
    executor: Executor = app.state.graphql
    await answer(executor, db, CLAIM, {"id": to_global_id("Claim", first)})
    got = await answer(executor, db, CLAIM, {"id": str(first)})
    assert got == await answer(fresh(app), db, CLAIM, {"id": str(first)})
    assert orjson.loads(got[:-4])["data"]["claim"]["id"] == to_global_id("Claim", first)


@pytest.mark.parametrize(
    "variables",
    [
        {"id": to_global_id("Entity", 1)},  # an id of another type
        {"id": "not an id"},
        {"id": "Q2xhaW06"},  # "Claim:" without a number
        {"id": 7},  # a number: ID coerces it, the template does not take it
        {"id": None},
        {},
        {"id": to_global_id("Claim", 1), "extra": 1},
        [],
    ],
)
async def test_what_the_template_does_not_take_gets_the_full_path_answer(
    app: FastAPI, db: Database, variables: Any
) -> None:
    await load_demo(db)
    executor: Executor = app.state.graphql
    await answer(executor, db, CLAIM, {"id": to_global_id("Claim", 2)})
    template = executor.templates.get((CLAIM, None))
    assert isinstance(template, IdTemplate)
    if isinstance(variables, dict):
        assert template.bind(variables) is None
    assert await answer(executor, db, CLAIM, variables) == await answer(fresh(app), db, CLAIM, variables)


@pytest.mark.parametrize(
    "query",
    [
        "query($n: Int!) { claims(first: $n) { edges { node { id } } } }",  # not an id
        'query($id: ID! = "Q2xhaW06MQ==") { claim(id: $id) { id } }',  # a default
        "query($id: ID!) { node(id: $id) { id } }",  # any type: the statement depends on it
        "query($id: ID!) { claim(id: $id) { id } entity(id: $id) { id } }",  # two types for one id
        "query($id: ID!, $yes: Boolean!) { claim(id: $id) { id content @include(if: $yes) } }",
        "query($id: ID!) { ...F } fragment F on Query { claim(id: $id) { id } }",
        "query($id: ID!) { claims(filter: {speakers: [$id]}) { edges { node { id } } } }",
    ],
)
async def test_other_shapes_get_no_template(app: FastAPI, db: Database, query: str) -> None:
    await load_demo(db)
    executor: Executor = app.state.graphql
    variables = {"id": to_global_id("Claim", 1), "n": 2, "yes": True}
    names = [n for n in ("id", "n", "yes") if f"${n}:" in query]
    await answer(executor, db, query, {n: variables[n] for n in names})
    assert not executor.templates.get((query, None))
