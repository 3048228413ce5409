"""Rate limits: per key or per address, shared by every worker, in PostgreSQL or Redis, told in headers."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import httpx
import pytest
from redis import Redis as SyncRedis
from redis.exceptions import RedisError

from api.app import create_app
from api.ratelimit import WINDOW_S, CounterStore, PostgresCounters, RateLimiter, RedisCounters
from api.settings import Settings
from db.database import Database
from db.keys import create_key

REDIS_URL = "redis://127.0.0.1:6379/15"


class Clock:
    """A settable clock, 10 s into a window."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0 - 1_700_000_000.0 % WINDOW_S + 10

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on Redis database 15, deleted afterwards."""
    client = SyncRedis.from_url(REDIS_URL, socket_connect_timeout=1.0)
    try:
        client.ping()
    except (RedisError, OSError):
        client.close()
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    prefix = f"claimsbase-test:{uuid.uuid4().hex[:8]}:"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()


@pytest.fixture(params=["postgresql", "redis"])
async def store(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[CounterStore]:
    """Each backend in turn: the ``rate_limit`` table, then Redis."""
    if request.param == "postgresql":
        yield PostgresCounters(db)
        return
    counters = RedisCounters(REDIS_URL, prefix=request.getfixturevalue("redis_prefix"))
    yield counters
    await counters.close()


async def spend(limiter: RateLimiter, bucket: str, times: int) -> list[bool]:
    return [(await limiter.hit(bucket)).allowed for _ in range(times)]


async def test_one_worker_admits_exactly_the_limit(store: CounterStore) -> None:
    limiter = RateLimiter(store, 50, batch=20, clock=Clock())

    admitted = await spend(limiter, "ip:10.0.0.1", 60)

    assert admitted == [True] * 50 + [False] * 10
    refused = await limiter.hit("ip:10.0.0.1")
    assert (refused.allowed, refused.remaining, refused.reset_s) == (False, 0, 50)


async def test_remaining_counts_down_by_one_per_request(store: CounterStore) -> None:
    limiter = RateLimiter(store, 30, batch=8, clock=Clock())

    remaining = [(await limiter.hit("key:1")).remaining for _ in range(30)]

    assert remaining == list(range(29, -1, -1))


async def test_spending_a_reserved_hit_answers_what_hit_would(store: CounterStore) -> None:
    """The middleware's way (`spend`, then `hit` when there is nothing to spend) counts and tells
    exactly what `hit` alone does, refusals included."""
    clock = Clock()
    gate, plain = RateLimiter(store, 30, batch=8, clock=clock), RateLimiter(store, 30, batch=8, clock=clock)

    async def through_the_gate() -> list[tuple[bytes, bytes]]:
        spent = gate.spend("key:gate")
        return spent if spent is not None else (await gate.hit("key:gate")).headers()

    told = []
    for _ in range(35):
        clock.now += 0.7
        told.append((await through_the_gate(), (await plain.hit("key:plain")).headers()))

    assert all(ours == theirs for ours, theirs in told)
    assert dict(told[0][0])[b"ratelimit-remaining"] == b"29"
    assert dict(told[-1][0]).get(b"retry-after") == b"26"


async def test_several_workers_together_never_exceed_the_limit(store: CounterStore) -> None:
    clock = Clock()
    workers = [RateLimiter(store, 100, batch=10, clock=clock) for _ in range(3)]
    rng = random.Random(6)

    async def client(n: int) -> int:
        return sum([(await rng.choice(workers).hit("key:7")).allowed for _ in range(n)])

    admitted = sum(await asyncio.gather(*(client(60) for _ in range(4))))

    # Never more than the limit; at most the batches stranded in the other workers fewer.
    assert 100 - 2 * 10 <= admitted <= 100


async def test_buckets_are_counted_apart(store: CounterStore) -> None:
    limiter = RateLimiter(store, 3, clock=Clock())

    assert await spend(limiter, "key:1", 4) == [True, True, True, False]
    assert await spend(limiter, "key:2", 3) == [True, True, True]
    assert await spend(limiter, "ip:10.0.0.1", 1) == [True]


async def test_a_new_window_starts_afresh(store: CounterStore) -> None:
    clock = Clock()
    limiter = RateLimiter(store, 2, clock=clock)
    assert await spend(limiter, "key:1", 3) == [True, True, False]

    clock.now += WINDOW_S

    assert await spend(limiter, "key:1", 3) == [True, True, False]


async def test_a_refused_bucket_costs_the_store_nothing(db: Database) -> None:
    limiter = RateLimiter(PostgresCounters(db), 5, clock=Clock())
    await spend(limiter, "ip:10.0.0.9", 6)
    statements: list[str] = []
    db.statement_listeners.append(statements.append)

    assert await spend(limiter, "ip:10.0.0.9", 100) == [False] * 100
    assert statements == []


async def test_busy_buckets_reserve_hits_in_batches(db: Database) -> None:
    limiter = RateLimiter(PostgresCounters(db), 600, batch=20, clock=Clock())
    statements: list[str] = []
    db.statement_listeners.append(statements.append)

    await spend(limiter, "key:1", 200)

    assert len(statements) <= 1 + 200 // 20 + 1


async def test_a_busy_bucket_reserves_about_a_tenth_of_a_second_of_its_requests(db: Database) -> None:
    """At 1,000 requests a second a bucket reserves ~100 hits at a time (AHEAD_S), growing by at most
    doubling, instead of a round trip every ``batch``; the counts stay exact in one worker."""
    clock = Clock()
    limiter = RateLimiter(PostgresCounters(db), 1_000_000, batch=20, clock=clock)
    statements: list[str] = []
    db.statement_listeners.append(statements.append)

    remaining = []
    for _ in range(3000):
        clock.now += 0.001
        remaining.append((await limiter.hit("key:busy")).remaining)

    reserved = await db.fetchval("SELECT hits FROM rate_limit WHERE bucket = 'key:busy'")
    assert remaining == list(range(999_999, 999_999 - 3000, -1))
    # 1, 20, 40, 80, then ~100 each: about 32 round trips for 3,000 requests (batches of 20: 151).
    assert 25 <= len(statements) <= 40
    assert 3000 <= reserved <= 3000 + 200  # at most one batch of ~100 (200 with its doubling) unspent


async def test_requests_that_find_nothing_to_spend_share_one_reservation(db: Database) -> None:
    limiter = RateLimiter(PostgresCounters(db), 600, batch=20, clock=Clock())
    await limiter.hit("key:herd")  # the bucket's first hit reserves just itself
    statements: list[str] = []
    db.statement_listeners.append(statements.append)

    decisions = await asyncio.gather(*(limiter.hit("key:herd") for _ in range(8)))

    assert len(statements) == 1  # one INSERT … ON CONFLICT, not eight queued on the row's lock
    assert sorted(d.remaining for d in decisions) == list(range(591, 599))
    assert await db.fetchval("SELECT hits FROM rate_limit WHERE bucket = 'key:herd'") == 21


async def test_requests_waiting_on_a_reservation_go_on_when_the_reserving_one_is_cancelled(db: Database) -> None:
    """A request cancelled mid-reservation (its deadline) must not leave the others waiting for ever:
    they wake, and the next of them reserves for itself."""
    clock = Clock()
    limiter = RateLimiter(PostgresCounters(db), 600, batch=20, clock=clock)
    await limiter.hit("key:stuck")  # the bucket's first hit; the next one reserves a batch
    async with db.transaction() as tx:  # hold the counter's row, so the reservation waits on its lock
        await tx.fetchval("SELECT hits FROM rate_limit WHERE bucket = 'key:stuck' FOR UPDATE")
        reserving = asyncio.create_task(limiter.hit("key:stuck"))
        await asyncio.sleep(0.2)
        waiting = [asyncio.create_task(limiter.hit("key:stuck")) for _ in range(3)]
        await asyncio.sleep(0.2)
        reserving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reserving
        await asyncio.sleep(0.1)
    decisions = await asyncio.wait_for(asyncio.gather(*waiting), 5)

    assert all(d.allowed for d in decisions)
    assert len({d.remaining for d in decisions}) == 3  # three hits counted, none twice


async def test_old_windows_are_forgotten(db: Database) -> None:
    clock = Clock()
    limiter = RateLimiter(PostgresCounters(db), 10, clock=clock)
    await spend(limiter, "key:1", 1)
    clock.now += 2 * WINDOW_S

    await spend(limiter, "key:1", 1)

    assert await db.fetchval("SELECT count(*) FROM rate_limit") == 1


@pytest.mark.parametrize("down", ["postgresql", "redis"])
async def test_an_unreachable_store_lets_requests_through(down: str, caplog: pytest.LogCaptureFixture) -> None:
    dead: CounterStore = (
        PostgresCounters(Database("postgresql://127.0.0.1:1/none"))
        if down == "postgresql"
        else RedisCounters("redis://127.0.0.1:1/0")
    )
    limiter = RateLimiter(dead, 1, clock=Clock())

    assert await spend(limiter, "key:1", 3) == [True, True, True]
    assert "rate-limit store unreachable" in caplog.text
    await limiter.close()


@pytest.fixture(params=["postgresql", "redis"])
async def limited(request: pytest.FixtureRequest, db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with 3 requests a minute, counted in each backend in turn.

    Windows are fixed minutes: a test that straddled a minute boundary would see its count reset,
    so it starts in a fresh minute when fewer than 10 s of this one are left.
    """
    left = WINDOW_S - time.time() % WINDOW_S
    if left < 10:
        await asyncio.sleep(left + 0.1)
    limited_settings = replace(settings, rate_limit_per_minute=3)
    app = create_app(limited_settings, database=db)
    if request.param == "redis":
        counters = RedisCounters(REDIS_URL, prefix=request.getfixturevalue("redis_prefix"))
        app.state.rate_limiter = RateLimiter(counters, 3)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def test_the_request_past_the_limit_is_429_with_retry_after(limited: httpx.AsyncClient) -> None:
    seen = [await limited.get("/openapi.json") for _ in range(4)]

    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert [r.headers["ratelimit-remaining"] for r in seen] == ["2", "1", "0", "0"]
    refused = seen[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert "3 requests a minute" in refused.json()["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= WINDOW_S
    assert refused.headers["retry-after"] == refused.headers["ratelimit-reset"]
    for response in seen:
        assert response.headers["ratelimit-limit"] == "3"
        assert response.headers["ratelimit-policy"] == f"3;w={WINDOW_S}"
        assert 1 <= int(response.headers["ratelimit-reset"]) <= WINDOW_S
        assert "x-request-id" in response.headers


async def test_health_probes_are_never_limited(limited: httpx.AsyncClient) -> None:
    for _ in range(5):
        await limited.get("/openapi.json")

    response = await limited.get("/healthz")

    assert response.status_code == 200
    assert "ratelimit-limit" not in response.headers


async def test_a_valid_key_has_its_own_bucket_and_an_invalid_one_does_not(
    db: Database, limited: httpx.AsyncClient
) -> None:
    key = await create_key(db, ["read"])
    for _ in range(3):
        await limited.get("/openapi.json")
    assert (await limited.get("/openapi.json")).status_code == 429

    with_key = await limited.get("/openapi.json", headers={"X-API-Key": key.secret})
    bogus = await limited.get("/openapi.json", headers={"X-API-Key": "cb_0123456789ab_" + "0" * 64})

    assert (with_key.status_code, with_key.headers["ratelimit-remaining"]) == (200, "2")
    assert bogus.status_code == 429


async def test_a_blank_key_is_counted_against_the_address_not_a_bucket_shared_by_every_blank_key(
    limited: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        await limited.get("/openapi.json")

    blank = await limited.get("/openapi.json", headers={"X-API-Key": "   "})

    assert blank.status_code == 429  # this address's bucket, already spent


async def test_limits_are_off_at_zero(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        assert "ratelimit-limit" not in response.headers
