"""The one place statements run: a pool with a statement timeout, tracing, and error translation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
import orjson

log = logging.getLogger("claims.db")

Connection = asyncpg.Connection
Record = asyncpg.Record


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached, or a statement ran out of time; the API answers 503."""


class StatementTimeout(DatabaseUnavailable):
    """A statement hit `statement_timeout`."""


_UNAVAILABLE = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    TimeoutError,
)
_BROKEN = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.InternalClientError,
    TimeoutError,
)


async def _init_connection(conn: Connection) -> None:
    # json/jsonb arrive as already-serialised text where we pass bytes through, and as Python values
    # where code asks for them; orjson both ways.
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


async def _keep_session(conn: Connection) -> None:
    """Pool release hook that skips asyncpg's default four-statement reset.

    asyncpg still rolls back any open transaction before this runs. The default reset also
    unlocks session advisory locks, closes cursors, UNLISTENs and RESETs settings; pooled
    connections here never take session locks (only `pg_advisory_xact_lock`), never LISTEN
    (the listener has its own connection), never SET outside a transaction (settings come from
    `server_settings`) and open cursors only inside transactions — so the reset would protect
    nothing and costs a round trip per request.
    """


@dataclass
class Database:
    """A pool plus the settings every statement runs under.

    ``statement_listeners`` receive each statement's SQL after it ran; the tests use them to count
    statements per request.
    """

    dsn: str
    statement_timeout_ms: int = 5000
    min_size: int = 2
    max_size: int = 10
    command_timeout_s: float = 10.0
    pool: asyncpg.Pool | None = None
    statement_listeners: list[Callable[[str], None]] = field(default_factory=list)
    slow_ms: float = 500.0

    async def connect(self) -> None:
        """Open the pool; PostgreSQL must be reachable."""
        self.pool = await asyncpg.create_pool(
            self.dsn,
            min_size=self.min_size,
            max_size=self.max_size,
            command_timeout=self.command_timeout_s,
            init=_init_connection,
            reset=_keep_session,
            server_settings={
                "statement_timeout": str(self.statement_timeout_ms),
                "application_name": "claimsbase",
                "TimeZone": "UTC",
                "idle_in_transaction_session_timeout": "60000",
            },
        )

    async def close(self) -> None:
        """Close the pool, waiting briefly for connections in use."""
        if self.pool is not None:
            pool, self.pool = self.pool, None
            try:
                await pool.close()
            except Exception:
                pool.terminate()

    def _traced(self, sql: str, started: float) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        if elapsed > self.slow_ms:
            log.warning("slow statement", extra={"elapsed_ms": round(elapsed, 1)})
        for listener in self.statement_listeners:
            listener(sql)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        """A pooled connection; errors reaching the server become `DatabaseUnavailable`."""
        if self.pool is None:
            raise DatabaseUnavailable("the database pool is not open")
        # The wait for a busy pool is bounded; with an idle connection there is no wait to bound,
        # and asyncpg's timeout costs a task and a timer per acquisition.
        timeout = None if self.pool.get_idle_size() else self.command_timeout_s
        try:
            async with self.pool.acquire(timeout=timeout) as proxy:
                conn = cast(Connection, proxy)  # the proxy forwards every Connection method
                try:
                    yield conn
                except _BROKEN:
                    # The connection broke mid-statement (server restart, network): never hand it
                    # back to the pool half-way through a protocol exchange.
                    conn.terminate()
                    raise
                except asyncio.CancelledError:
                    # Cancelled while using it (request timeout, client gone, a sibling resolver
                    # failed): the server may still be running the statement and holding its locks.
                    # Closing the connection ends both; the pool opens a fresh one when needed.
                    conn.terminate()
                    raise
        except asyncpg.exceptions.QueryCanceledError as exc:
            raise StatementTimeout("statement timed out") from exc
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable("the database is unavailable") from exc

    @asynccontextmanager
    async def transaction(self, isolation: str = "read_committed") -> AsyncIterator[Traced]:
        """A connection inside a transaction, committed when the block ends without error."""
        async with self.acquire() as conn, conn.transaction(isolation=isolation):  # type: ignore[arg-type]
            yield Traced(conn, self)

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        """All rows of one statement."""
        async with self.acquire() as conn:
            return await Traced(conn, self).fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        """The first row of one statement, or None."""
        async with self.acquire() as conn:
            return await Traced(conn, self).fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """The first column of the first row, or None."""
        async with self.acquire() as conn:
            return await Traced(conn, self).fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        """Run one statement for its effect; returns the status tag."""
        async with self.acquire() as conn:
            return await Traced(conn, self).execute(sql, *args)


@dataclass
class Traced:
    """A connection whose statements go through the database's tracing."""

    conn: Connection
    db: Database

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        started = time.perf_counter()
        try:
            return await self.conn.fetch(sql, *args)
        finally:
            self.db._traced(sql, started)

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        started = time.perf_counter()
        try:
            return await self.conn.fetchrow(sql, *args)
        finally:
            self.db._traced(sql, started)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.conn.fetchval(sql, *args)
        finally:
            self.db._traced(sql, started)

    async def execute(self, sql: str, *args: Any) -> str:
        started = time.perf_counter()
        try:
            return await self.conn.execute(sql, *args)
        finally:
            self.db._traced(sql, started)

    async def executemany(self, sql: str, args: list[tuple[Any, ...]]) -> None:
        started = time.perf_counter()
        try:
            await self.conn.executemany(sql, args)
        finally:
            self.db._traced(sql, started)
