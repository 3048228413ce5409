"""A small connection pool for asyncpg: a connection out and back costs a list pop and a list append.

asyncpg's own pool does work on every release that is a large share of a short request's CPU
(`python -m bench.pool` compares it with this pool and a bare connection): it runs through
``asyncio.shield`` (a new task, so one more turn of the event loop), an ``asyncio.timeout`` around
the reset hook, and re-arms an inactivity timer. This pool keeps what the app relies on and nothing
else:

- at most ``max_size`` connections, ``min_size`` opened up front; idle ones are reused newest
  first, and a closed one (server restart, network) is dropped when it comes up;
- when all are busy, callers queue in order, optionally with a timeout; a released connection
  goes straight to the first of them;
- a connection given back inside a transaction, or closed, is not reused (``Database`` closes
  the one it cancels mid-statement), and its place is freed for a new one;
- no reset on release: see `db.database` for why the app needs none.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

import asyncpg

Connection = asyncpg.Connection


class PoolClosed(asyncpg.exceptions.InterfaceError):
    """The pool was closed."""


class Pool:
    """``conn = await pool.acquire()`` … ``pool.release(conn)``; ``connect`` opens one connection."""

    def __init__(self, connect: Callable[[], Awaitable[Connection]], *, min_size: int, max_size: int) -> None:
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError("need 0 <= min_size <= max_size and max_size >= 1")
        self.connect = connect
        self.min_size = min_size
        self.max_size = max_size
        self.idle: list[Connection] = []
        self.size = 0  # connections open or being opened
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.closed = False
        self.waits = 0  # callers that found every connection busy and queued, ever

    async def start(self) -> Pool:
        """Open ``min_size`` connections (raising what the first failure raised, none left open)."""
        try:
            for _ in range(self.min_size):
                self.idle.append(await self.open())
        except BaseException:
            self.terminate()
            raise
        return self

    def get_size(self) -> int:
        return self.size

    def get_idle_size(self) -> int:
        return len(self.idle)

    def take(self) -> Connection | None:
        """An idle connection, if there is one (no waiting, no coroutine: the common case)."""
        while self.idle and not self.closed:
            conn = self.idle.pop()
            if not conn.is_closed():
                return conn
            self.size -= 1
        return None

    async def acquire(self, wait_s: float | None = None) -> Connection:
        """A connection for the caller alone until `release`; waits (at most ``wait_s``) when all are busy."""
        if self.closed:
            raise PoolClosed("the pool is closed")
        if (conn := self.take()) is not None:
            return conn
        if self.size < self.max_size:
            return await self.open()
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        self.waits += 1
        try:
            async with asyncio.timeout(wait_s):
                handed = await waiter
        except BaseException:
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled() and waiter.exception() is None:
                # Served just as we gave up (timeout, cancellation): pass it on.
                if (served := waiter.result()) is not None:
                    self.release(served)
                else:
                    self.size -= 1
                    self.wake()
            raise
        return handed if handed is not None else await self.opened()

    def release(self, conn: Connection) -> None:
        """Give ``conn`` back: to the first waiter, else to the idle list; a broken one is dropped."""
        if self.closed or conn.is_closed() or conn.is_in_transaction():
            conn.terminate()
            self.size -= 1
            self.wake()
            return
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self.idle.append(conn)

    async def open(self) -> Connection:
        """A new connection, counted from now."""
        self.size += 1
        return await self.opened()

    async def opened(self) -> Connection:
        """A new connection for a place already counted; the place is freed if it cannot be opened."""
        try:
            return await self.connect()
        except BaseException:
            self.size -= 1
            self.wake()
            raise

    def wake(self) -> None:
        """A place is free: keep it for the first waiter, which opens a connection of its own."""
        while not self.closed and self.waiters and self.size < self.max_size:
            waiter = self.waiters.popleft()
            if not waiter.done():
                self.size += 1
                waiter.set_result(None)
                return

    async def close(self, grace_s: float = 5.0) -> None:
        """Close the idle connections politely; those in use are closed as they come back."""
        self.closed = True
        idle, self.idle = self.idle, []
        self.size -= len(idle)
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_exception(PoolClosed("the pool is closed"))
        self.waiters.clear()
        for conn in idle:
            try:
                await conn.close(timeout=grace_s)
            except Exception:
                conn.terminate()

    def terminate(self) -> None:
        """Close every idle connection at once."""
        self.closed = True
        idle, self.idle = self.idle, []
        self.size -= len(idle)
        for conn in idle:
            conn.terminate()
