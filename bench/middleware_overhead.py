"""What the middleware stack costs per request: the same app with and without `api.front.install`.

    .venv/bin/python -m bench.middleware_overhead                 # in-process, then wrk against uvicorn
    .venv/bin/python -m bench.middleware_overhead --no-wrk        # in-process only (no server, no wrk)
    .venv/bin/python -m bench.middleware_overhead --dsn postgresql://… --duration 10 --rounds 3

Variants (each the whole `create_app`, one uvicorn worker, JSON access log written to a file):

    none         `front.install` replaced by a no-op: FastAPI, routing, the REST middleware
    stack        request id, security headers, timeout, body cap, access log, rate limit per address
                 (PostgreSQL counters, batches of CLAIMS_RATE_LIMIT_BATCH=20)
    stack-key    the same with a valid X-API-Key (verified once per 30 s, then from the cache)
    stack-redis  the same counters in Redis (127.0.0.1:6379/15)
    stack-exact  CLAIMS_RATE_LIMIT_BATCH=1: one INSERT … ON CONFLICT round trip per request

Endpoints: ``/bench/plain`` (a tiny JSON body, no database: the harshest ratio) and ``/bench/db``
(one ``SELECT 1`` through the app's pool: the cheapest real read). The rate limit is 10⁹/minute,
so the limiter counts every request but never refuses. In-process mode calls the ASGI app directly
(no sockets, no HTTP parsing), which isolates the middleware's own microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI
from starlette.responses import Response

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/claims_bench_mw"
REDIS_URL = "redis://127.0.0.1:6379/15"
PATHS = ["/bench/plain", "/bench/db"]
BIG = str(10**9)

# name → settings on top of the defaults; "none" also skips `front.install`.
VARIANTS: dict[str, dict[str, str]] = {
    "none": {},
    "stack": {},
    "stack-key": {},
    "stack-redis": {"CLAIMS_REDIS_URL": REDIS_URL},
    "stack-exact": {"CLAIMS_RATE_LIMIT_BATCH": "1"},
    "stack-no-limit": {"CLAIMS_RATE_LIMIT_PER_MINUTE": "0"},
    "stack-no-log": {"CLAIMS_LOG_LEVEL": "WARNING"},
    "stack-no-limit-no-log": {"CLAIMS_RATE_LIMIT_PER_MINUTE": "0", "CLAIMS_LOG_LEVEL": "WARNING"},
}


def variant_env(variant: str, dsn: str) -> dict[str, str]:
    """The CLAIMS_* settings of a variant."""
    return {
        "CLAIMS_DATABASE_URL": dsn,
        "CLAIMS_LOAD_DEMO": "false",
        "CLAIMS_RATE_LIMIT_PER_MINUTE": BIG,
        "BENCH_MW_VARIANT": variant,
        **VARIANTS[variant],
    }


def make_app() -> FastAPI:
    """The uvicorn factory: ``create_app()`` for $BENCH_MW_VARIANT plus the two bench routes."""
    from api import app as app_module
    from api import front

    install = front.install
    if os.environ.get("BENCH_MW_VARIANT", "stack") == "none":
        front.install = lambda app, settings: None  # type: ignore[assignment]
    try:
        app = app_module.create_app()
    finally:
        front.install = install  # type: ignore[method-assign]

    async def plain() -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    async def one_row() -> Response:
        value = await app.state.db.fetchval("SELECT 1")
        return Response(b'{"value":%d}' % value, media_type="application/json")

    app.add_api_route("/bench/plain", plain, methods=["GET"], include_in_schema=False)
    app.add_api_route("/bench/db", one_row, methods=["GET"], include_in_schema=False)
    return app


async def prepare(dsn: str) -> str:
    """Create the database if missing, migrate it, and return a fresh read key."""
    from db.database import Database
    from db.keys import create_key
    from db.migrate import migrate

    name = dsn.rsplit("/", 1)[1]
    admin = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate(dsn)
    db = Database(dsn)
    await db.connect()
    try:
        await db.execute("TRUNCATE rate_limit")
        return (await create_key(db, ["read"], "bench")).secret
    finally:
        await db.close()


# ---------------------------------------------------------------- in-process


async def drive(app: Any, path: str, headers: list[tuple[bytes, bytes]], n: int) -> float:
    """Microseconds per request, calling the ASGI app ``n`` times in a row."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
        await asyncio.sleep(0)  # one turn of the event loop per request, as under a server
    elapsed = time.perf_counter() - started
    assert set(statuses) == {200}, set(statuses)
    return elapsed / n * 1e6


async def in_process(dsn: str, key: str, n: int, rounds: int, selected: list[str]) -> dict[tuple[str, str], float]:
    """Median µs per request for each variant and path, rounds interleaving the variants."""
    # The JSON access log is formatted and written, to a file nobody reads.
    from api.logs import JsonFormatter

    handler = logging.FileHandler(os.devnull)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    samples: dict[tuple[str, str], list[float]] = {}
    async with contextlib.AsyncExitStack() as stack:
        apps = {}
        for variant in selected:
            with patched_env(variant_env(variant, dsn)):
                apps[variant] = make_app()
            await stack.enter_async_context(apps[variant].router.lifespan_context(apps[variant]))
        for _ in range(rounds):
            for path in PATHS:
                for variant, app in apps.items():
                    headers = [(b"x-api-key", key.encode())] if variant == "stack-key" else []
                    await drive(app, path, headers, n // 10)  # warm-up
                    samples.setdefault((variant, path), []).append(await drive(app, path, headers, n))
    logging.getLogger().removeHandler(handler)
    return {k: statistics.median(v) for k, v in samples.items()}


@contextlib.contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---------------------------------------------------------------- wrk against uvicorn


@contextlib.contextmanager
def servers(dsn: str, logs: Path, selected: list[str]) -> Iterator[dict[str, tuple[str, int]]]:
    """One single-worker uvicorn per variant; yields their base URLs and process ids."""
    procs: list[subprocess.Popen[bytes]] = []
    urls: dict[str, tuple[str, int]] = {}
    try:
        for i, variant in enumerate(selected):
            port = 8391 + i
            log = (logs / f"{variant}.log").open("wb")
            argv = [*pin(1), sys.executable, "-m", "uvicorn", "bench.middleware_overhead:make_app", "--factory"]
            argv += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
            env = {**os.environ, **variant_env(variant, dsn)}
            procs.append(
                subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            )
            urls[variant] = (f"http://127.0.0.1:{port}", procs[-1].pid)  # taskset execs: same pid
        for url, _ in urls.values():
            wait_for(url + "/healthz")
        yield urls
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)


def pin(cpu: int) -> list[str]:
    """``taskset -c cpu`` where there are two CPUs or more: the server and wrk stop trading places."""
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) >= 2 else []


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: float, connections: int, headers: list[str]) -> tuple[float, int, int]:
    """(requests/s, requests, non-2xx count) from one wrk run."""
    argv = [*pin(0), "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    for h in headers:
        argv += ["-H", h]
    text = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rps, requests, int(bad.group(1)) if bad else 0


Results = dict[tuple[str, str], float]


def over_wrk(
    dsn: str, key: str, seconds: float, rounds: int, connections: int, selected: list[str]
) -> tuple[Results, Results]:
    """Median req/s, and median server CPU µs per request, for each variant and path.

    Rounds interleave the variants. CPU time per request is the steadier number on a shared or
    virtual machine: wall-clock throughput moves with whatever else the host runs.
    """
    rps: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="claims-mw-bench-") as tmp, servers(dsn, Path(tmp), selected) as urls:
        for url, _ in urls.values():  # warm-up
            for path in PATHS:
                wrk(url + path, 1, connections, [])
        for _ in range(rounds):
            for path in PATHS:
                for variant, (url, pid) in urls.items():
                    headers = [f"X-API-Key: {key}"] if variant == "stack-key" else []
                    before = cpu_seconds(pid)
                    per_s, requests, bad = wrk(url + path, seconds, connections, headers)
                    used = cpu_seconds(pid) - before
                    if bad:
                        raise RuntimeError(f"{variant} {path}: {bad} non-2xx responses")
                    rps.setdefault((variant, path), []).append(per_s)
                    cpu.setdefault((variant, path), []).append(used / requests * 1e6)
    return (
        {k: statistics.median(v) for k, v in rps.items()},
        {k: statistics.median(v) for k, v in cpu.items()},
    )


def table(title: str, unit: str, results: dict[tuple[str, str], float], higher_is_better: bool) -> str:
    selected = list(dict.fromkeys(v for v, _ in results))
    lines = [f"### {title}", "", f"| variant | {' | '.join(f'{p} {unit}' for p in PATHS)} | ratios vs none |"]
    lines.append("| --- | " + " | ".join("---:" for _ in PATHS) + " | --- |")
    for variant in selected:
        cells, ratios = [], []
        for path in PATHS:
            value, base = results[variant, path], results["none", path]
            cells.append(f"{value:,.1f}")
            ratio = value / base if higher_is_better else base / value
            extra = "" if higher_is_better else f", +{value - base:.1f} µs"
            ratios.append(f"{path.rsplit('/', 1)[1]} {ratio:.2f}×{extra}")
        lines.append(f"| {variant} | {' | '.join(cells)} | {'; '.join(ratios)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DSN", DEFAULT_DSN))
    parser.add_argument("--requests", type=int, default=20_000, help="in-process requests per round")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--no-wrk", action="store_true")
    parser.add_argument("--no-in-process", action="store_true")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated; none is always run")
    args = parser.parse_args()

    key = asyncio.run(prepare(args.dsn))
    selected = ["none", *(v for v in args.variants.split(",") if v != "none")]
    if not args.no_in_process:
        micro = asyncio.run(in_process(args.dsn, key, args.requests, args.rounds, selected))
        print(table("In-process (ASGI called directly), µs per request", "µs", micro, higher_is_better=False))
    if args.no_wrk:
        return
    if shutil.which("wrk") is None:
        print("\nwrk is not installed (apt-get install -y wrk); skipped the HTTP runs")
        return
    rps, cpu = over_wrk(args.dsn, key, args.duration, args.rounds, args.connections, selected)
    print()
    print(table("Server CPU time per request under wrk (user + system), µs", "µs", cpu, higher_is_better=False))
    print()
    print(
        table(
            f"wrk -t1 -c{args.connections} on CPU 0, one uvicorn worker on CPU 1, req/s",
            "req/s",
            rps,
            higher_is_better=True,
        )
    )


if __name__ == "__main__":
    main()
