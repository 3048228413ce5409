"""The one place statements run: a pool with a statement timeout, tracing, and error translation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import asyncpg
import orjson

from db.pool import Pool

log = logging.getLogger("claims.db")

Connection = asyncpg.Connection
Record = asyncpg.Record


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached, or a statement ran out of time; the API answers 503."""


class StatementTimeout(DatabaseUnavailable):
    """A statement hit `statement_timeout`; ``raised`` counts them in this process (for metrics)."""

    raised: ClassVar[int] = 0

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        StatementTimeout.raised += 1


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


# No reset when a connection goes back to the pool (asyncpg's pool sends a four-statement one by
# default: unlock session advisory locks, close cursors, UNLISTEN, RESET settings). Pooled
# connections here never take session locks (only `pg_advisory_xact_lock`), never LISTEN (the
# listener has its own connection), never SET outside a transaction (settings come from
# `server_settings`) and open cursors only inside transactions; a connection given back inside a
# transaction is closed, not reused (db.pool). The reset would protect nothing and cost a round
# trip per request.


def _statement(method: Callable[..., Awaitable[Any]], doc: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``Database.<method>(sql, *args)``: one statement on a connection out of the pool.

    One coroutine per statement, with `Lease`'s steps written out and the idle connection taken
    without a coroutine of its own: every read the API answers runs through here, so each layer of
    ``async with`` and ``await`` would be paid on every request.
    """

    async def run(self: Database, sql: str, *args: Any) -> Any:
        pool = self.pool
        if pool is None:
            raise DatabaseUnavailable("the database pool is not open")
        conn = pool.take()
        if conn is None:
            try:
                conn = await pool.acquire(self.command_timeout_s)
            except _UNAVAILABLE as exc:
                raise DatabaseUnavailable("the database is unavailable") from exc
        started = time.perf_counter()
        try:
            return await method(conn, sql, *args)
        except BaseException as exc:
            translated = _translated(conn, exc)
            if translated is not exc:
                raise translated from exc
            raise
        finally:
            if (
                (time.perf_counter() - started) * 1000 > self.slow_ms
                or self.statement_listeners
                or self.statement_timers
            ):
                self._traced(sql, started)  # (a call only when there is something to do)
            if self.pool is not None:
                self.pool.release(conn)
            else:
                conn.terminate()

    run.__name__ = run.__qualname__ = method.__name__
    run.__doc__ = doc
    return run


@dataclass
class Database:
    """A pool plus the settings every statement runs under.

    ``statement_listeners`` receive each statement's SQL after it ran; the tests use them to count
    statements per request. ``statement_timers`` receive its SQL and its `time.perf_counter` start
    (`api.tracing` makes a span of each).
    """

    dsn: str
    statement_timeout_ms: int = 5000
    min_size: int = 2
    max_size: int = 10
    command_timeout_s: float = 10.0
    pool: Pool | None = None
    statement_listeners: list[Callable[[str], None]] = field(default_factory=list)
    statement_timers: list[Callable[[str, float], None]] = field(default_factory=list)
    slow_ms: float = 500.0

    async def connect(self) -> None:
        """Open the pool; PostgreSQL must be reachable."""
        settings = {
            "statement_timeout": str(self.statement_timeout_ms),
            "application_name": "claimsbase",
            "TimeZone": "UTC",
            "idle_in_transaction_session_timeout": "60000",
        }

        async def connect() -> Connection:
            conn = await asyncpg.connect(self.dsn, command_timeout=self.command_timeout_s, server_settings=settings)
            try:
                await _init_connection(conn)
            except BaseException:
                conn.terminate()
                raise
            return conn

        self.pool = await Pool(connect, min_size=self.min_size, max_size=self.max_size).start()

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
        for timer in self.statement_timers:
            timer(sql, started)
        for listener in self.statement_listeners:
            listener(sql)

    def acquire(self) -> Lease:
        """``async with db.acquire() as conn``: a pooled connection; errors reaching the server
        become `DatabaseUnavailable`, a statement timeout `StatementTimeout`."""
        return Lease(self)

    @asynccontextmanager
    async def transaction(self, isolation: str = "read_committed") -> AsyncIterator[Traced]:
        """A connection inside a transaction, committed when the block ends without error."""
        async with self.acquire() as conn, conn.transaction(isolation=isolation):  # type: ignore[arg-type]
            yield Traced(conn, self)

    # One statement on a pooled connection each (`_statement`; class variables, not fields).
    fetch: ClassVar[Callable[..., Coroutine[Any, Any, list[Record]]]] = _statement(
        Connection.fetch, "All rows of one statement."
    )
    fetchrow: ClassVar[Callable[..., Coroutine[Any, Any, Record | None]]] = _statement(
        Connection.fetchrow, "The first row of one statement, or None."
    )
    fetchval: ClassVar[Callable[..., Coroutine[Any, Any, Any]]] = _statement(
        Connection.fetchval, "The first column of the first row, or None."
    )
    execute: ClassVar[Callable[..., Coroutine[Any, Any, str]]] = _statement(
        Connection.execute, "Run one statement for its effect; returns the status tag."
    )


class Lease:
    """A connection out of the database's pool for one ``async with`` block (a class, not a
    generator-based context manager: it carries every statement, and costs two plain awaits)."""

    __slots__ = ("conn", "db")

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: Connection | None = None

    async def __aenter__(self) -> Connection:
        pool = self.db.pool
        if pool is None:
            raise DatabaseUnavailable("the database pool is not open")
        try:
            # The wait for a busy pool is bounded; with an idle connection there is none to bound.
            conn = pool.take()
            self.conn = conn if conn is not None else await pool.acquire(self.db.command_timeout_s)
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable("the database is unavailable") from exc
        return self.conn

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        conn, pool = self.conn, self.db.pool
        assert conn is not None
        try:
            if exc is not None:
                translated = _translated(conn, exc)
                if translated is not exc:
                    raise translated from exc
        finally:
            if pool is not None:
                pool.release(conn)
            else:
                conn.terminate()


def _translated(conn: Connection, exc: BaseException) -> BaseException:
    """What to raise for ``exc``, met while ``conn`` was in use."""
    if isinstance(exc, (*_BROKEN, asyncio.CancelledError)):
        # The connection broke mid-statement (server restart, network), or the caller was
        # cancelled while using it (request timeout, client gone, a sibling resolver failed)
        # and the server may still be running the statement and holding its locks: never
        # reuse it half-way through a protocol exchange; closing it ends both.
        conn.terminate()
    if isinstance(exc, asyncpg.exceptions.QueryCanceledError):
        return StatementTimeout("statement timed out")
    if isinstance(exc, _UNAVAILABLE):
        return DatabaseUnavailable("the database is unavailable")
    return exc


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
