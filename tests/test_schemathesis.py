"""schemathesis over every REST operation, in-process, with its default checks and the stateful
phase that follows the OpenAPI links (write a source → read its claims → patch → delete).

schemathesis loads the schema when this module is imported and runs the app in its own event-loop
thread, so the app's database opens lazily there, on the first request, once the session's test
database is known (`late_database`). Bounded by `scripts/schemathesis.toml` (examples per
operation, steps per scenario) and the hypothesis settings below; `make fuzz` runs longer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from api.settings import Settings
from db.database import Database
from db.demo_data import load_demo
from db.keys import create_key
from tests import st_hooks  # noqa: F401  (registers the NDJSON serializer and the cursor filter)
from tests.helpers import DATA_TABLES, TABLES

CONFIG = Path(__file__).resolve().parents[1] / "scripts" / "schemathesis.toml"
SETTINGS = Settings(load_demo=False, rate_limit_per_minute=0, database_url="postgresql://unused")
DATABASE = Database(
    "postgresql://set-by-the-late_database-fixture", statement_timeout_ms=20_000, min_size=1, max_size=4
)
APP = create_app(SETTINGS, database=DATABASE)
_opening = asyncio.Lock()


async def _open() -> None:
    async with _opening:
        if DATABASE.pool is None:
            await DATABASE.connect()
            await load_demo(DATABASE)


async def _reset() -> None:
    """Empty tables with the demo data loaded again, as at the start of the run."""
    await _open()
    await DATABASE.execute(DATA_TABLES)
    await load_demo(DATABASE)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The API, opening its pool (and loading the demo data) on the first request that needs it."""
    if scope["type"] == "http" and scope["path"] != "/openapi.json" and DATABASE.pool is None:
        await _open()
    await APP(scope, receive, send)


schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=SchemathesisConfig.from_path(CONFIG))


async def _prepare(dsn: str) -> dict[str, str]:
    """Migrated, empty tables; and an API key with every scope."""
    import asyncpg

    from db.migrate import migrate

    await migrate(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(TABLES)
    finally:
        await conn.close()
    db = Database(dsn, min_size=1, max_size=1)
    await db.connect()
    try:
        key = await create_key(db, ["read", "write", "admin"], "schemathesis")
    finally:
        await db.close()
    return {"X-API-Key": str(key.secret)}


@pytest.fixture(scope="module")
def late_database(server_dsn: str) -> Iterator[dict[str, str]]:
    """Point the app at the test database; yields the headers carrying an API key with every scope."""
    headers = asyncio.run(_prepare(server_dsn))
    DATABASE.dsn = server_dsn
    yield headers
    if DATABASE.pool is not None:
        from schemathesis.python.asgi import _get_portal

        _get_portal().call(DATABASE.close)


@schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_holds_to_its_contract(case: Any, late_database: dict[str, str]) -> None:
    case.call_and_validate(headers=late_database)


def test_stateful_scenarios_follow_the_links(late_database: dict[str, str]) -> None:
    from schemathesis.python.asgi import _get_portal

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every scenario starts from the same data, so hypothesis sees the same responses (and
            # the same links to follow) whenever it replays a prefix of one.
            _get_portal().call(_reset)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": late_database}

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=20,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
