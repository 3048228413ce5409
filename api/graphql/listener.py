"""The PostgreSQL LISTEN connection behind GraphQL subscriptions: one per worker process.

Every claim insert, through any worker, fires ``NOTIFY claim_added, '<id>'`` (a trigger in the
migration). The listener holds one dedicated connection (not a pooled one: LISTEN is session
state) and fans each id out to the asyncio queues of this worker's subscribers. When the
connection drops (database restart, network), it reconnects with exponential backoff and then
delivers the claims added while it was away, so subscribers miss nothing but the order.

A slow subscriber's queue is bounded: when it is full, new ids for that subscriber are dropped
and logged rather than letting one stalled websocket hold memory for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import asyncpg
from cachetools import FIFOCache
from fastapi import FastAPI

from db import subscriptions as store
from db.database import Database, DatabaseUnavailable
from schema.graphql.subscriptions import LISTENER_STATE

log = logging.getLogger("claims.graphql.listener")

STATE_KEY = LISTENER_STATE  # where subscriptions find it: app.state.claim_listener
QUEUE_SIZE = 256
RECENT = 4096  # ids remembered to skip a claim delivered both by NOTIFY and by the catch-up


class ClaimListener:
    """LISTENs on ``claim_added`` and hands each new claim id to every subscriber's queue."""

    def __init__(
        self,
        db: Database,
        *,
        queue_size: int = QUEUE_SIZE,
        min_backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
        ping_s: float = 15.0,
    ) -> None:
        self.db = db
        self.queue_size = queue_size
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.ping_s = ping_s
        self.connected = asyncio.Event()  # set while LISTENing
        self.dropped = 0  # ids dropped for full queues, ever
        self.reconnects = 0
        self._subscribers: set[asyncio.Queue[int]] = set()
        self._task: asyncio.Task[None] | None = None
        self._high_water: int | None = None  # highest claim id delivered (None: not connected yet)
        self._recent: FIFOCache[int, None] = FIFOCache(RECENT)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening in the background (returns at once; the first connect may still fail)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="claim-listener")

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.connected.clear()

    # -- subscribers -----------------------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[int]]:
        """A queue receiving the id of every claim added from now on, for the ``with`` block."""
        queue: asyncio.Queue[int] = asyncio.Queue(self.queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, claim_id: int) -> None:
        """Hand ``claim_id`` to every subscriber once; a full queue drops it (and says so)."""
        if claim_id in self._recent:
            return
        self._recent[claim_id] = None
        self._high_water = max(self._high_water or 0, claim_id)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(claim_id)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning("subscriber queue full; dropped claim %s", claim_id)

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        try:
            claim_id = int(str(payload))
        except ValueError:
            log.warning("ignoring a %s notification that is not an id", channel)
            return
        self.publish(claim_id)

    # -- the connection --------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = self.min_backoff_s
        while True:
            try:
                await self._listen_once()
                backoff = self.min_backoff_s  # it was up, then dropped: retry quickly
                log.warning("listener connection lost; reconnecting")
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, DatabaseUnavailable) as exc:
                log.warning("listener cannot connect (%s); retrying in %.1f s", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
            except Exception:  # a bug must not end live updates for the worker's lifetime
                log.exception("listener failed; retrying in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
            self.reconnects += 1

    async def _listen_once(self) -> None:
        """Connect, LISTEN, catch up, then wait until the connection is lost (it raises if it fails)."""
        conn = await asyncpg.connect(
            self.db.dsn, timeout=10, server_settings={"application_name": "claimsbase-listener"}
        )
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(store.CHANNEL, self._on_notify)
            await self._catch_up()
            self.connected.set()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.ping_s)
                if not lost.is_set():
                    await conn.fetchval(store.PING, timeout=self.ping_s)  # a half-open socket raises here
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            if not self.connected.is_set():
                raise  # never got going: back off
        finally:
            self.connected.clear()
            if not conn.is_closed():
                conn.terminate()

    async def _catch_up(self) -> None:
        """First connect: remember where the store is. Reconnect: deliver what was added meanwhile."""
        if self._high_water is None:
            self._high_water = await store.latest_claim_id(self.db)
            return
        for claim_id in await store.claim_ids_after(self.db, self._high_water):
            self.publish(claim_id)


def listener_of(app: Any) -> ClaimListener | None:
    """The app's listener, if `install` registered one."""
    found = getattr(app.state, STATE_KEY, None)
    return found if isinstance(found, ClaimListener) else None


def install(app: FastAPI) -> None:
    """Register the listener's start and stop with the app's lifespan hooks (idempotent)."""
    if getattr(app.state, "claim_listener_installed", False):
        return
    app.state.claim_listener_installed = True

    async def start(app: FastAPI) -> None:
        listener = ClaimListener(app.state.db)
        setattr(app.state, STATE_KEY, listener)
        await listener.start()

    async def stop(app: FastAPI) -> None:
        listener = listener_of(app)
        if listener is not None:
            await listener.stop()

    app.state.startup.append(start)
    app.state.shutdown.append(stop)
