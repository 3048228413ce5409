"""A real PostgreSQL for every test: the server at CLAIMS_TEST_DATABASE_URL, else an embedded one.

Each test session gets a fresh database (created on the server, dropped afterwards), migrated
once; each test starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.settings import Settings
from db.database import Database
from db.keys import SCOPES, create_key
from db.migrate import migrate
from tests.helpers import TABLES, settled, with_database

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RELIABILITY = Path(__file__).resolve().parent / "reliability"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/reliability is a `reliability` test (`make test-fast` leaves them out)."""
    for item in items:
        if RELIABILITY in item.path.parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """A DSN for a throwaway database on a real server."""
    url = os.environ.get("CLAIMS_TEST_DATABASE_URL")
    if url:
        name = f"claimsbase_test_{uuid.uuid4().hex[:10]}"
        admin = url

        async def create() -> None:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        async def drop() -> None:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        import asyncio

        asyncio.run(create())
        try:
            yield with_database(url, name)
        finally:
            asyncio.run(drop())
        return

    from db.embedded import start_embedded, stop_embedded

    folder = Path(tempfile.mkdtemp(prefix="claims-test-"))
    dsn, server = start_embedded(folder, keep_running=True)
    try:
        yield dsn
    finally:
        stop_embedded(server)  # before its folder goes: nothing of the suite is left running
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def database(server_dsn: str) -> AsyncIterator[Database]:
    """The migrated test database, opened once per session."""
    await migrate(server_dsn)
    db = Database(server_dsn, statement_timeout_ms=20_000, min_size=1, max_size=8)
    await db.connect()
    yield db
    await db.close()


@pytest.fixture
async def db(database: Database) -> AsyncIterator[Database]:
    """The test database with every table emptied first."""
    await database.execute(TABLES)
    database.statement_listeners.clear()
    yield database
    database.statement_listeners.clear()


@pytest.fixture
def settings() -> Settings:
    """Settings for an in-process app: no demo data, rate limits off, no embedded server of its own."""
    return Settings(load_demo=False, rate_limit_per_minute=0, database_url="postgresql://unused")


@pytest.fixture
async def keys(db: Database) -> dict[str, str]:
    """Real API keys, one per scope, created in the emptied database: ``{"read": "cb_…", …}``."""
    return {scope: (await create_key(db, [scope], name=f"test {scope}")).secret for scope in SCOPES}


@pytest.fixture
async def app(db: Database, settings: Settings) -> AsyncIterator[FastAPI]:
    """The app in-process, with its lifespan running and its start-up settled."""
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        await settled(app)
        yield app


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client without an API key."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def client(app: FastAPI, keys: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client sending an admin API key (``X-API-Key``) with every request."""
    transport = httpx.ASGITransport(app=app)
    headers = {"X-API-Key": keys["admin"]}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as http:
        yield http


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip that says plainly it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is absent ({SHARED_DATA}); this test reads the real data files there")
    return SHARED_DATA
