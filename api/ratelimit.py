"""Fixed-window rate limiting shared by every worker: counters in PostgreSQL, or in Redis when configured.

Each bucket (``key:<id>`` or ``ip:<address>``) may make ``limit`` requests per 60-second window.
The shared counter is the truth, but a worker does not ask it on every request: it *reserves* a
small batch of hits at once (one ``INSERT … ON CONFLICT … RETURNING``, or one Redis script doing
``INCRBY`` + ``EXPIRE``) and spends them locally. A reservation is granted only as far as the shared
total stays within the limit, so the workers together never admit more than ``limit`` requests a
window. The price: hits reserved by one worker and not spent there before the window ends are lost,
so a client whose requests move between workers may be refused early by what the other workers
hold (each at most ``batch``, or `AHEAD_S` of that client's requests), and ``RateLimit-Remaining``
is the count as this worker last saw it. Batches start at 1 for a bucket a worker has not seen this
window (one-off clients strand nothing), are ``batch`` hits after that, grow for a busy bucket to
about `AHEAD_S` seconds of its requests (at most doubling from one reservation to the next), and
shrink as the window fills: never more than a quarter of what is left. ``batch = 1`` gives one round
trip per request and exact counts.

One reservation per bucket is in flight in a worker at a time: requests that find nothing to spend
while it runs wait for it instead of each sending their own (concurrent ``INSERT … ON CONFLICT``s
of one row queue on its lock, and each would reserve a batch of its own).

A bucket already over its limit is refused locally until its window ends, so a client hammering
the API costs the shared store nothing. When the store cannot be reached the limiter lets requests
through (and logs it): the endpoints behind it answer 503 themselves if they need the database.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from db import ratelimit as counters
from db.database import Database, DatabaseUnavailable

log = logging.getLogger("claims.ratelimit")

WINDOW_S = 60
REDIS_PREFIX = "claimsbase:ratelimit:"
REPORT_EVERY_S = 10.0
AHEAD_S = 0.1  # a busy bucket's reservation: about this long's worth of its requests


class CounterStore(Protocol):
    """Where the shared counters live."""

    async def reserve(self, bucket: str, window_start: float, hits: int) -> int:
        """Add ``hits`` to the window's counter; the new total."""

    async def forget_before(self, window_start: float) -> None:
        """Drop counters of older windows (a no-op where they expire by themselves)."""

    async def close(self) -> None:
        """Release connections."""


@dataclass
class PostgresCounters:
    """Counters in the ``rate_limit`` table."""

    db: Database

    async def reserve(self, bucket: str, window_start: float, hits: int) -> int:
        return await counters.reserve_hits(self.db, bucket, window_start, hits)

    async def forget_before(self, window_start: float) -> None:
        await counters.delete_windows_before(self.db, window_start)

    async def close(self) -> None:
        """The database belongs to the app."""


# INCRBY and EXPIRE in one round trip: one script call, where a pipeline of the two commands is slower.
RESERVE_SCRIPT = """
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return total
"""


class RedisCounters:
    """Counters as Redis keys ``<prefix><bucket>:<window start>`` that expire after their window."""

    def __init__(self, url: str, prefix: str = REDIS_PREFIX) -> None:
        self.prefix = prefix
        # Short timeouts: a Redis that stops answering must not hold requests up.
        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.script = self.client.register_script(RESERVE_SCRIPT)  # EVALSHA, loading it when missing

    async def reserve(self, bucket: str, window_start: float, hits: int) -> int:
        key = f"{self.prefix}{bucket}:{int(window_start)}"
        total = await self.script(keys=[key], args=[hits, WINDOW_S * 2])
        return int(total)

    async def forget_before(self, window_start: float) -> None:
        """Keys expire by themselves."""

    async def close(self) -> None:
        await self.client.aclose()


class Decision(NamedTuple):
    """The limiter's answer for one request, and the headers that tell the client about it."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        """draft-ietf-httpapi-ratelimit-headers-06: ``RateLimit-Limit/-Remaining/-Reset`` and ``-Policy``."""
        out = _headers(self.limit, self.remaining, self.reset_s)
        if not self.allowed:
            out.append((b"retry-after", out[2][1]))
        return out


_RESETS = [(b"ratelimit-reset", b"%d" % s) for s in range(WINDOW_S + 1)]  # seconds left in a window


def _headers(limit: int, remaining: int, reset_s: int) -> list[tuple[bytes, bytes]]:
    """The four RateLimit headers of an answer (`Decision.headers` adds ``Retry-After`` to a refusal)."""
    limit_header, policy = _fixed_headers(limit)
    reset = _RESETS[reset_s] if 0 <= reset_s <= WINDOW_S else (b"ratelimit-reset", b"%d" % reset_s)
    return [limit_header, (b"ratelimit-remaining", b"%d" % remaining), reset, policy]


@functools.cache
def _fixed_headers(limit: int) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    return (b"ratelimit-limit", b"%d" % limit), (b"ratelimit-policy", b"%d;w=%d" % (limit, WINDOW_S))


@dataclass
class _Lease:
    """This worker's view of one bucket in the current window."""

    shared_total: int = 0  # the shared counter after this worker's last reservation
    spare: int = 0  # hits reserved and not yet spent here
    granted: int = 0  # hits the last reservation granted
    reserved_at: float = 0.0  # and when it was asked for (the limiter's clock)
    pending: asyncio.Future[None] | None = None  # set while a reservation is in flight

    def remaining(self, limit: int) -> int:
        return max(0, limit - self.shared_total) + self.spare


class RateLimiter:
    """``await limiter.hit("ip:10.0.0.1")`` → a `Decision`; see the module docstring for the scheme."""

    def __init__(
        self,
        store: CounterStore,
        limit: int,
        *,
        batch: int = 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.limit = limit
        self.batch = max(1, batch)
        self.clock = clock
        self._window = -1.0
        self._leases: dict[str, _Lease] = {}
        self._reported = 0.0

    async def hit(self, bucket: str) -> Decision:
        """Count one request against ``bucket``."""
        while True:
            now = self.clock()
            window = now - now % WINDOW_S
            reset = max(1, math.ceil(window + WINDOW_S - now))
            if window != self._window:
                await self._new_window(window)
            lease = self._leases.get(bucket)
            if lease is not None:
                if lease.spare > 0:
                    lease.spare -= 1
                    return Decision(True, self.limit, lease.remaining(self.limit), reset)
                if lease.shared_total >= self.limit:
                    return Decision(False, self.limit, 0, reset)
                if lease.pending is not None:  # another request is reserving: its batch is ours too
                    await asyncio.shield(lease.pending)
                    continue
            return await self._reserve(bucket, window, lease, now, reset)

    def spend(self, bucket: str) -> list[tuple[bytes, bytes]] | None:
        """The usual request's `hit`, without a coroutine: a hit already reserved for ``bucket`` in
        this window is spent and the allowed `Decision`'s headers returned; None when there is none
        to spend (``await hit`` then asks the store, or refuses)."""
        now = self.clock()
        window = now - now % WINDOW_S
        lease = self._leases.get(bucket) if window == self._window else None
        if lease is None or lease.spare <= 0:
            return None
        lease.spare -= 1
        return _headers(self.limit, lease.remaining(self.limit), max(1, math.ceil(window + WINDOW_S - now)))

    async def close(self) -> None:
        """Release the store's connections."""
        await self.store.close()

    async def _reserve(self, bucket: str, window: float, lease: _Lease | None, now: float, reset: int) -> Decision:
        if lease is None:  # one hit for a bucket new to this worker (a one-off client strands nothing)
            wanted = 1
            lease = self._leases[bucket] = _Lease()
        else:
            wanted = self.batch
            elapsed = now - lease.reserved_at
            if wanted > 1 and elapsed > 0:  # a busy bucket: about AHEAD_S of it, at most doubling
                wanted = max(wanted, min(2 * lease.granted, int(lease.granted * AHEAD_S / elapsed)))
            wanted = max(1, min(wanted, (self.limit - lease.shared_total) // 4))  # shrinks as the window fills
        lease.pending = pending = asyncio.get_running_loop().create_future()
        try:
            total = await self.store.reserve(bucket, window, wanted)
        except (DatabaseUnavailable, RedisError, OSError) as exc:
            self._report(exc)
            return Decision(True, self.limit, self.limit, reset)
        finally:
            lease.pending = None
            pending.set_result(None)
        granted = min(wanted, max(0, self.limit - (total - wanted)))
        lease.shared_total = max(lease.shared_total, total)
        lease.granted, lease.reserved_at = granted, now
        if granted == 0:
            return Decision(False, self.limit, 0, reset)
        lease.spare += granted - 1
        return Decision(True, self.limit, lease.remaining(self.limit), reset)

    async def _new_window(self, window: float) -> None:
        self._window = window
        self._leases.clear()
        try:
            await self.store.forget_before(window - WINDOW_S)
        except (DatabaseUnavailable, RedisError, OSError) as exc:
            self._report(exc)

    def _report(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._reported >= REPORT_EVERY_S:
            self._reported = now
            log.warning("rate-limit store unreachable; letting requests through", extra={"error": type(exc).__name__})


def build_limiter(db: Database, limit: int, *, redis_url: str | None = None, batch: int = 20) -> RateLimiter:
    """The limiter the settings ask for: Redis counters when ``redis_url`` is set, else PostgreSQL."""
    store: CounterStore = RedisCounters(redis_url) if redis_url else PostgresCounters(db)
    return RateLimiter(store, limit, batch=batch)
