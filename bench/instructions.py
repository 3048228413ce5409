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
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from bench.inprocess import DEFAULT_DSN, TARGETS

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DSN", DEFAULT_DSN))
    parser.add_argument("--target", default="rest-claim", choices=TARGETS)
    parser.add_argument("--requests", type=int, default=300, help="N: runs of N and 4N requests are compared")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    ours = per_request("claimsbase", args.target, args.requests, args.dsn)
    bare = per_request("floor", args.target, args.requests, args.dsn)
    print(f"{'target':<12} {'Claimsbase':>12} {'floor':>12} {'extra':>12}   instructions per request")
    print(f"{args.target:<12} {ours:>12,.0f} {bare:>12,.0f} {ours - bare:>12,.0f}")


if __name__ == "__main__":
    main()
