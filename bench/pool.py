"""CPU per statement through asyncpg's pool, through `db.pool`, and on a bare connection.

    .venv/bin/python -m bench.pool [--dsn postgresql://…] [--statements 5000] [--rounds 3]

``SELECT 1`` in a loop, one at a time, under uvloop as the server runs; the figure is this
process's CPU time (user + system) per statement, so it is what the pool costs the worker, not
what PostgreSQL does. asyncpg's pool runs without its reset on release (as the app ran it).
Printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import uvloop

from db.pool import Pool

DEFAULT_DSN = os.environ.get("BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/claims_bench")


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


async def per_statement(run: Callable[[], Awaitable[Any]], n: int) -> float:
    """µs of CPU per call of ``run``."""
    started = cpu_s()
    for _ in range(n):
        await run()
    return (cpu_s() - started) / n * 1e6


async def main_async(args: argparse.Namespace) -> None:
    async def no_reset(conn: Any) -> None:
        pass

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(args.dsn)

    theirs = await asyncpg.create_pool(args.dsn, min_size=1, max_size=2, reset=no_reset)
    ours = await Pool(connect, min_size=1, max_size=2).start()
    bare = await asyncpg.connect(args.dsn)

    async def via_ours() -> Any:
        conn = await ours.acquire()
        try:
            return await conn.fetchval("SELECT 1")
        finally:
            ours.release(conn)

    ways: dict[str, Callable[[], Awaitable[Any]]] = {
        "asyncpg pool": lambda: theirs.fetchval("SELECT 1"),
        "db.pool": via_ours,
        "bare connection": lambda: bare.fetchval("SELECT 1"),
    }
    figures: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, run in ways.items():
            figures[name].append(await per_statement(run, args.statements))
    for name, values in figures.items():
        print(f"{name:<16} {statistics.median(values):7.1f} µs CPU per statement (median of {args.rounds})")
    await theirs.close()
    await ours.close()
    await bare.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    uvloop.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
