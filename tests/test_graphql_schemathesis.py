"""schemathesis over every GraphQL mutation, from schema/schema.graphql, with an API key that may write.

The mutations take typed inputs, so schemathesis writes whole source documents, claims, patches,
deletions and merges from the schema: anything the type system lets through must come back as data
or user errors, never as a server error (a 5xx, or an error masked as "Internal error.").

As in tests/test_schemathesis.py, schemathesis runs the app in its own event-loop thread, so the app
has a database of its own, opened there on the first request (with the demo data), once the
session's test database is known.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from api.settings import Settings
from db.database import Database
from db.demo_data import load_demo
from db.keys import create_key
from db.migrate import migrate
from tests.helpers import TABLES

SDL = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"
DATABASE = Database("postgresql://set-by-the-writer-fixture", statement_timeout_ms=20_000, min_size=1, max_size=4)
APP = create_app(
    Settings(load_demo=False, rate_limit_per_minute=0, database_url="postgresql://unused"), database=DATABASE
)


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and DATABASE.pool is None:
        await DATABASE.connect()
        await load_demo(DATABASE)
    await APP(scope, receive, send)


schema = schemathesis.graphql.from_path(SDL, config=SchemathesisConfig.from_dict({"generation": {"max-examples": 30}}))
schema.app = _app
schema = schema.include(name_regex="^Mutation\\.")


@pytest.fixture(scope="module")
def writer(server_dsn: str) -> Iterator[dict[str, str]]:
    """Point the app at the session's test database (emptied); yields headers with a key of every scope."""

    async def prepare() -> str:
        await migrate(server_dsn)
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute(TABLES)
        finally:
            await conn.close()
        db = Database(server_dsn, min_size=1, max_size=1)
        await db.connect()
        try:
            return str((await create_key(db, ["read", "write", "admin"], "schemathesis")).secret)
        finally:
            await db.close()

    key = asyncio.run(prepare())
    DATABASE.dsn = server_dsn
    yield {"X-API-Key": key}
    if DATABASE.pool is not None:
        from schemathesis.python.asgi import _get_portal

        _get_portal().call(DATABASE.close)


def test_every_mutation_is_fuzzed() -> None:
    fields = {op.ok().label for op in schema.get_all_operations()}
    assert fields == {
        "Mutation.importSource",
        "Mutation.createClaim",
        "Mutation.updateClaim",
        "Mutation.deleteClaim",
        "Mutation.mergeEntities",
    }


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_mutation_is_a_server_error(case: Any, writer: dict[str, str]) -> None:
    case.call_and_validate(base_url="http://testserver/graphql", headers=writer, checks=[not_a_server_error])
