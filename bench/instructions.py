"""Instructions per request, counted by valgrind's callgrind: a figure that repeats on a noisy machine.

    .venv/bin/python -m bench.instructions                       # GET /v1/claims/{id}: Claimsbase, the floor
    .venv/bin/python -m bench.instructions --target gql-feed --requests 200

Each implementation runs `bench.inprocess --implementation …` (the ASGI app called directly, no
sockets, the bench database) under ``valgrind --tool=callgrind`` twice, with N and 4N requests
after the same start-up and warm-up; the difference over 3N is what one request costs this process
(Python, asyncpg, the event loop). PostgreSQL runs outside valgrind and is not counted.

Why: on the shared 2-core VMs these sessions run on, CPU time per request moved by ±30 % between
identical runs (steal time, neighbours), far more than most changes worth measuring; this count
moves by well under 1 %. Instructions are not time — an interpreter's instructions cost more
cycles than a hash's, and valgrind hides CPU extensions such as SHA-NI, so OpenSSL's hashes count
high here — so compare like with like (two commits, or Claimsbase against the floor), and confirm
with wrk (`python -m bench`) what a change does to requests a second. Figures are printed, never
asserted. Needs valgrind (``apt-get install -y valgrind``); each run takes a minute or two.

    .venv/bin/python -m bench.instructions --served          # the serving process, over HTTP

``--served`` counts the process that serves HTTP instead: ``claims serve`` and ``python -m
bench.floor`` (one worker each) start under callgrind with counting off, take a warm-up over one
loopback keep-alive connection, then count N requests sent one after another (valgrind's
``callgrind_control`` turns counting on and dumps). That adds what the in-process run leaves out:
uvicorn's HTTP parsing, the response head it writes (per header, so API responses pay more) and
the socket. The response bytes differ (Claimsbase sends 16 headers, the floor 3).

    .venv/bin/python -m bench.instructions --served --set CLAIMS_LOG_LEVEL=WARNING --skip-floor

``--set NAME=VALUE`` (repeatable, ``--served`` only) passes a setting to the Claimsbase server,
so what one feature costs is the difference from a run with the defaults (the figures in
docs/graphql.md, Performance, stop 20); ``--skip-floor`` leaves the floor out of such runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.inprocess import DEFAULT_DSN, TARGETS, Request, targets

COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def collected(implementation: str, target: str, requests: int, dsn: str) -> int:
    """Instructions valgrind counted for one whole run of ``requests`` requests."""
    with tempfile.TemporaryDirectory() as scratch:
        argv = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={scratch}/out",
            sys.executable,
            "-m",
            "bench.inprocess",
            "--dsn",
            dsn,
            "--target",
            target,
            "--implementation",
            implementation,
            "--requests",
            str(requests),
        ]
        run = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = COLLECTED.search(run.stderr)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"{implementation} under valgrind failed ({run.returncode}):\n{run.stderr[-2000:]}")
    return int(found[1])


def per_request(implementation: str, target: str, requests: int, dsn: str) -> float:
    """Instructions one request costs: (run of 4N − run of N) / 3N, the two runs side by side."""
    with ThreadPoolExecutor(2) as pool:
        short = pool.submit(collected, implementation, target, requests, dsn)
        long = pool.submit(collected, implementation, target, 4 * requests, dsn)
        return (long.result() - short.result()) / (3 * requests)


def served(implementation: str, target: str, requests: int, dsn: str, settings: dict[str, str] | None = None) -> float:
    """Instructions the serving process spends per request, counted over one keep-alive connection
    (``settings``: environment variables for the Claimsbase server, over the defaults here)."""
    bounds = asyncio.run(_bounds(dsn))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "CLAIMS_DATABASE_URL": dsn,
        "CLAIMS_LOAD_DEMO": "false",
        "CLAIMS_RATE_LIMIT_PER_MINUTE": str(10**9),
        "BENCH_DSN": dsn,
        "BENCH_WORDS": "energy",
    }
    if implementation != "floor":
        env.update(settings or {})
    app = ["-m", "bench.floor"] if implementation == "floor" else ["-m", "api.cli", "serve"]
    ours, bare = targets(*bounds)[target]
    make = bare if implementation == "floor" else ours
    random.seed(0)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
        argv += [sys.executable, *app, "--port", str(port)]
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            with _connect(port, proc) as conn:
                for _ in range(200):
                    _exchange(conn, make())
                subprocess.run(["callgrind_control", "--instr=on", str(proc.pid)], check=True, capture_output=True)
                for _ in range(requests):
                    _exchange(conn, make())
                subprocess.run(["callgrind_control", "--dump", str(proc.pid)], check=True, capture_output=True)
            dump = next(Path(scratch).glob("out.*"))
            totals = [line for line in dump.read_text().splitlines() if line.startswith(("totals:", "summary:"))]
            return int(totals[0].split()[1]) / requests
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def _bounds(dsn: str) -> tuple[int, int]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT max(id) FROM claim"), await conn.fetchval("SELECT max(id) FROM entity")
    finally:
        await conn.close()


def _connect(port: int, proc: subprocess.Popen[bytes]) -> socket.socket:
    """A connection to the server once it listens (start-up under valgrind takes a while)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server under valgrind exited ({proc.returncode})")
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server under valgrind did not listen within 600 s")


def _exchange(conn: socket.socket, request: Request) -> None:
    """Send one request and read its whole response (``Content-Length`` or chunked); it must be a 200."""
    method, target, body, headers = request
    lines = [f"{method} {target} HTTP/1.1".encode(), b"host: bench", b"content-length: %d" % len(body)]
    lines += [name + b": " + value for name, value in headers]
    conn.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(conn)
    head, rest = data.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"{method} {target}: {head.splitlines()[0].decode()}")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    if length is None:  # chunked: ends with the empty chunk
        while not rest.endswith(b"0\r\n\r\n"):
            rest += _recv(conn)
    else:
        while len(rest) < int(length[1]):
            rest += _recv(conn)


def _recv(conn: socket.socket) -> bytes:
    chunk = conn.recv(65536)
    if not chunk:
        raise SystemExit("the server closed the connection")
    return chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DSN", DEFAULT_DSN))
    parser.add_argument("--target", default="rest-claim", choices=TARGETS)
    parser.add_argument("--requests", type=int, default=300, help="N: runs of N and 4N requests are compared")
    parser.add_argument("--served", action="store_true", help="count the serving process over HTTP (uvicorn too)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=setting,
        metavar="NAME=VALUE",
        help="with --served: a setting for the Claimsbase server (repeatable)",
    )
    parser.add_argument("--skip-floor", action="store_true", help="count Claimsbase only")
    args = parser.parse_args()
    if args.set and not args.served:
        parser.error("--set needs --served")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")

    def count(implementation: str) -> float:
        if args.served:  # (`served` passes the settings to Claimsbase only)
            return served(implementation, args.target, args.requests, args.dsn, dict(args.set))
        return per_request(implementation, args.target, args.requests, args.dsn)

    ours = count("claimsbase")
    if args.skip_floor:
        print(f"{'target':<12} {'Claimsbase':>12}   instructions per request")
        print(f"{args.target:<12} {ours:>12,.0f}" + "".join(f"   {k}={v}" for k, v in args.set))
        return
    bare = count("floor")
    print(f"{'target':<12} {'Claimsbase':>12} {'floor':>12} {'extra':>12}   instructions per request")
    print(f"{args.target:<12} {ours:>12,.0f} {bare:>12,.0f} {ours - bare:>12,.0f}")


def setting(text: str) -> tuple[str, str]:
    """``--set``'s ``NAME=VALUE``: an environment variable for the server (names start with ``CLAIMS_``)."""
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("CLAIMS_"):
        raise argparse.ArgumentTypeError(f"expected CLAIMS_NAME=VALUE, got {text!r}")
    return name, value


if __name__ == "__main__":
    main()
