"""A real `claims serve` process for the fault tests: its own process group, its workers, their memory.

``claims_server(dsn, workers=2)`` starts ``.venv/bin/claims serve`` on a free loopback port against
``dsn`` (no demo data, no rate limit), waits until ``/readyz`` answers 200 and yields a `Server`.
On exit the whole process group is stopped (SIGTERM, then SIGKILL); `Server.kill` is ``kill -9``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

CLAIMS = Path(sys.executable).parent / "claims"
START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …; comm may hold spaces and parentheses, so split after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def rss_kb(pid: int) -> int:
    """The resident set size of ``pid`` in kB (``VmRSS`` in /proc/<pid>/status)."""
    for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@dataclass
class Server:
    """A running `claims serve`."""

    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def workers(self) -> list[int]:
        """The worker processes' ids: uvicorn's spawned children, or the server itself with one worker."""
        spawned = [p for p in children(self.proc.pid) if "spawn_main" in cmdline(p)]
        return spawned or [self.proc.pid]

    def kill(self) -> None:
        """``kill -9`` the server and its workers, the way a crash or the OOM killer would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@contextlib.contextmanager
def claims_server(dsn: str, *, workers: int = 1, **settings: str) -> Iterator[Server]:
    """Serve ``dsn`` from a fresh process; extra ``settings`` become ``CLAIMS_<NAME>`` variables."""
    port = free_port()
    env = {
        **os.environ,
        "CLAIMS_DATABASE_URL": dsn,
        "CLAIMS_LOAD_DEMO": "false",
        "CLAIMS_RATE_LIMIT_PER_MINUTE": "0",
        "CLAIMS_LOG_LEVEL": "WARNING",
        **{f"CLAIMS_{k.upper()}": v for k, v in settings.items()},
    }
    env.pop("CLAIMS_TEST_DATABASE_URL", None)
    log = Path(tempfile.mkstemp(prefix="claims-serve-", suffix=".log")[1])
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CLAIMS), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped (or killed) whole, workers included
        )
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    try:
        _wait_ready(server, workers)
        yield server
    finally:
        _stop(server)
        log.unlink(missing_ok=True)


def _wait_ready(server: Server, workers: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(base_url=server.base, timeout=5) as http:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise AssertionError(f"claims serve exited with {server.proc.returncode}:\n{server.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get("/readyz").status_code == 200 and len(server.workers()) >= workers:
                    return
            time.sleep(0.2)
    raise AssertionError(f"claims serve was not ready within {START_TIMEOUT_S:.0f} s:\n{server.output()}")


def _stop(server: Server) -> None:
    if server.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.proc.wait(timeout=15)
    # Workers or helpers left in the group (after a SIGKILL of the parent, say) go too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.proc.wait(timeout=15)
