"""Microseconds of Python per request, in process: the ASGI app called directly, no sockets.

    .venv/bin/python -m bench.inprocess                         # every target, µs/request
    .venv/bin/python -m bench.inprocess --target gql-claim --profile   # cProfile of one target

Claimsbase (the whole `create_app`, middleware, auth, rate limit, access log to a file) and the
bare-ASGI floor (`bench.floor`) run the same statements against the bench database, so the
difference is what being an API costs per request, without HTTP parsing or the load generator
competing for the CPU. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench import queries

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/claims_bench"

Request = tuple[str, str, bytes, list[tuple[bytes, bytes]]]  # method, path?query, body, headers
TARGETS = ("rest-claim", "gql-claim", "gql-feed", "gql-person")  # the keys of `targets`


def targets(max_claim: int, max_entity: int) -> dict[str, tuple[Callable[[], Request], Callable[[], Request]]]:
    """name → (Claimsbase request, floor request), each a function making a fresh random one."""
    json_ct = [(b"content-type", b"application/json")]

    def gql(query: str, variables: Callable[[], dict[str, Any]]) -> Callable[[], Request]:
        return lambda: ("POST", "/graphql", orjson.dumps({"query": query, "variables": variables()}), json_ct)

    def claim_id() -> int:
        return random.randint(1, max_claim)

    return {
        "rest-claim": (
            lambda: ("GET", f"/v1/claims/{claim_id()}", b"", []),
            lambda: ("GET", f"/rest/claims/{claim_id()}", b"", []),
        ),
        "gql-claim": (
            gql(queries.CLAIM, lambda: {"id": queries.global_id("Claim", claim_id())}),
            lambda: ("GET", f"/gql/claim/{claim_id()}", b"", []),
        ),
        "gql-feed": (
            gql(queries.FEED, lambda: {"first": 50}),
            lambda: ("GET", "/feed", b"", []),
        ),
        "gql-person": (
            gql(queries.PERSON, lambda: {"id": queries.global_id("Entity", random.randint(1, max_entity))}),
            lambda: ("GET", f"/gql/person/{random.randint(1, max_entity)}", b"", []),
        ),
    }


async def call(app: Any, request: Request) -> int:
    """One request through ``app``; its status."""
    method, target, body, headers = request
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), *headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def drive(app: Any, make: Callable[[], Request], n: int) -> tuple[float, float]:
    """µs per request over ``n`` sequential requests (after 200 of warm-up): wall clock (PostgreSQL's
    time included) and this process's CPU (Python and the driver only: steadier on a noisy VM)."""
    for _ in range(200):
        status = await call(app, make())
        assert status == 200, status
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await call(app, make())
    return (time.perf_counter() - started) / n * 1e6, (time.process_time() - cpu) / n * 1e6


async def lifespan(app: Any) -> Callable[[], Any]:
    """Start ``app``'s lifespan; a coroutine function that ends it."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()
    await queue.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, queue.get, send))
    await started.wait()

    async def stop() -> None:
        await queue.put({"type": "lifespan.shutdown"})
        await task

    return stop


async def main_async(args: argparse.Namespace) -> None:
    import asyncpg

    conn = await asyncpg.connect(args.dsn)
    max_claim = await conn.fetchval("SELECT max(id) FROM claim")
    max_entity = await conn.fetchval("SELECT max(id) FROM entity")
    words = ["energy"]
    await conn.close()
    os.environ.update(
        {
            "CLAIMS_DATABASE_URL": args.dsn,
            "CLAIMS_LOAD_DEMO": "false",
            "CLAIMS_RATE_LIMIT_PER_MINUTE": str(10**9),
            "BENCH_DSN": args.dsn,
            "BENCH_WORDS": ",".join(words),
        }
    )
    from api.app import create_app
    from bench import floor

    if args.implementation:  # one implementation, one pass (bench.instructions runs this under callgrind)
        random.seed(0)
        app = floor.app if args.implementation == "floor" else create_app()
        stop = await lifespan(app)
        _quiet_logs()
        ours, bare = targets(max_claim, max_entity)[args.target or "rest-claim"]
        wall, cpu = await drive(app, bare if app is floor.app else ours, args.requests)
        print(f"{args.implementation}: {args.requests} requests, {wall:.1f} µs wall, {cpu:.1f} µs CPU each")
        await stop()
        return
    app = create_app()
    stops = [await lifespan(app), await lifespan(floor.app)]
    _quiet_logs()
    chosen = targets(max_claim, max_entity)
    names = [args.target] if args.target else list(chosen)
    print(
        f"{'target':<12} {'Claimsbase µs':>14} {'floor µs':>10} {'extra µs':>10} {'ratio':>7}"
        f"   {'CPU µs: ours':>12} {'floor':>6} {'extra':>6}"
    )
    for name in names:
        ours, bare = chosen[name]
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await drive(app, ours, args.requests)
            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative"))
            stats.print_stats(int(os.environ.get("BENCH_LINES", "45")))
            continue
        a, b = [], []
        for _ in range(args.rounds):
            a.append(await drive(app, ours, args.requests))
            b.append(await drive(floor.app, bare, args.requests))
        us, fl = statistics.median(x for x, _ in a), statistics.median(x for x, _ in b)
        uc, fc = statistics.median(c for _, c in a), statistics.median(c for _, c in b)
        print(
            f"{name:<12} {us:>14.1f} {fl:>10.1f} {us - fl:>10.1f} {fl / us:>6.2f}×"
            f"   {uc:>12.1f} {fc:>6.1f} {uc - fc:>6.1f}"
        )
    for stop in stops:
        await stop()


def _quiet_logs() -> None:
    """The app's JSON stream handler, to /dev/null."""
    devnull = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DSN", DEFAULT_DSN))
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--target", choices=TARGETS)
    parser.add_argument("--profile", action="store_true", help="cProfile the target instead of timing")
    parser.add_argument(
        "--implementation", choices=["claimsbase", "floor"], help="drive only this one, once (random ids seeded)"
    )
    # The event loop `claims serve` runs on (uvicorn picks uvloop when it is installed, as it is here):
    # asyncio's own loop spends tens of microseconds more of Python per request.
    try:
        import uvloop
    except ImportError:
        asyncio.run(main_async(parser.parse_args()))
    else:
        uvloop.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
