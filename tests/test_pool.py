"""db.pool: the app's connection pool, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from db.database import Database, DatabaseUnavailable
from db.pool import Pool, PoolClosed


@pytest.fixture
async def pool(server_dsn: str) -> AsyncIterator[Pool]:
    opened: list[asyncpg.Connection] = []

    async def connect() -> asyncpg.Connection:
        conn = await asyncpg.connect(server_dsn)
        opened.append(conn)
        return conn

    p = await Pool(connect, min_size=1, max_size=2).start()
    yield p
    await p.close()
    for conn in opened:
        conn.terminate()


async def backend(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT pg_backend_pid()"))


async def test_a_released_connection_is_reused(pool: Pool) -> None:
    first = await pool.acquire()
    pid = await backend(first)
    pool.release(first)
    again = await pool.acquire()
    assert await backend(again) == pid
    pool.release(again)
    assert (pool.get_size(), pool.get_idle_size()) == (1, 1)


async def test_no_more_than_max_size_connections_open_and_the_next_caller_waits_its_turn(pool: Pool) -> None:
    a, b = await pool.acquire(), await pool.acquire()
    assert pool.get_size() == 2
    third = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.05)
    assert not third.done()  # waiting, not a third connection
    pool.release(a)
    c = await asyncio.wait_for(third, 5)
    assert c is a and pool.get_size() == 2
    pool.release(b)
    pool.release(c)


async def test_a_bounded_wait_ends_with_a_timeout_and_leaves_the_pool_whole(pool: Pool) -> None:
    a, b = await pool.acquire(), await pool.acquire()
    with pytest.raises(TimeoutError):
        await pool.acquire(wait_s=0.05)
    pool.release(a)
    pool.release(b)
    assert (pool.get_size(), pool.get_idle_size()) == (2, 2)
    assert not pool.waiters


async def test_a_cancelled_waiter_does_not_swallow_the_connection_meant_for_it(pool: Pool) -> None:
    a, b = await pool.acquire(), await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)
    pool.release(a)  # handed to the waiter…
    waiting.cancel()  # …which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert pool.get_idle_size() == 1  # the connection came back to the pool
    pool.release(b)


async def test_a_connection_given_back_inside_a_transaction_or_closed_is_not_reused(pool: Pool) -> None:
    conn = await pool.acquire()
    pid = await backend(conn)
    await conn.execute("BEGIN")
    pool.release(conn)
    assert conn.is_closed() and pool.get_size() == 0
    fresh = await pool.acquire()
    assert await backend(fresh) != pid
    assert not fresh.is_in_transaction()
    fresh.terminate()
    pool.release(fresh)
    assert pool.get_size() == 0


async def test_a_freed_place_goes_to_the_caller_waiting_for_one(pool: Pool) -> None:
    a, b = await pool.acquire(), await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)
    a.terminate()
    pool.release(a)  # broken: its place is kept for the waiter, which opens a new connection
    c = await asyncio.wait_for(waiting, 5)
    assert c is not a and not c.is_closed()
    assert pool.get_size() == 2
    pool.release(b)
    pool.release(c)


async def test_closing_fails_the_waiters_and_closes_connections_as_they_come_back(pool: Pool) -> None:
    a, b = await pool.acquire(), await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)
    await pool.close()
    with pytest.raises(PoolClosed):
        await waiting
    pool.release(a)
    pool.release(b)
    assert a.is_closed() and b.is_closed() and pool.get_size() == 0
    with pytest.raises(PoolClosed):
        await pool.acquire()


async def test_a_statement_cancelled_mid_flight_closes_its_connection_and_the_pool_recovers(db: Database) -> None:
    assert db.pool is not None
    running = asyncio.create_task(db.fetchval("SELECT pg_sleep(5)"))
    await asyncio.sleep(0.2)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    busy = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(5)%' AND state = 'active'"
    for _ in range(100):  # the server notices the closed connection and ends its statement
        if await db.fetchval(busy) == 0:
            break
        await asyncio.sleep(0.05)
    assert await db.fetchval(busy) == 0
    assert await db.fetchval("SELECT 1") == 1


async def test_an_unreachable_server_is_database_unavailable_not_a_crash() -> None:
    down = Database("postgresql://postgres@127.0.0.1:9/nowhere", min_size=0, max_size=1)
    await down.connect()  # min_size 0: nothing to open yet
    with pytest.raises(DatabaseUnavailable):
        await down.fetchval("SELECT 1")
    assert down.pool is not None and down.pool.get_size() == 0  # the failed place was freed
    await down.close()
