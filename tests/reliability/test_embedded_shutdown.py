"""`claims serve` on the embedded PostgreSQL stops that server when it is itself stopped (SIGTERM).

uvicorn re-raises the SIGTERM it handled once it has shut down; with the default action the process
died there, before the exit handlers that stop the embedded server, which then ran on forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.reliability.serving import CLAIMS, Server, _stop, _wait_ready, cmdline, free_port

STOP_WAIT_S = 30.0


def embedded_servers(data_dir: Path) -> list[int]:
    """Running postgres processes whose data directory is under ``data_dir``."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and "postgres" in (line := cmdline(int(entry.name))) and f"-D {data_dir}" in line
    ]


def test_sigterm_stops_the_embedded_postgresql_too(tmp_path: Path) -> None:
    data_dir = tmp_path / "claims-data"
    env = {k: v for k, v in os.environ.items() if k not in ("CLAIMS_DATABASE_URL", "CLAIMS_TEST_DATABASE_URL")}
    env.update(CLAIMS_DATA_DIR=str(data_dir), CLAIMS_LOAD_DEMO="false", CLAIMS_LOG_LEVEL="WARNING")
    log, port = tmp_path / "serve.log", free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CLAIMS), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    try:
        _wait_ready(server, 1)
        assert embedded_servers(data_dir), "the embedded server should be running"

        os.kill(proc.pid, signal.SIGTERM)  # the server process only, not its group: as a supervisor would
        proc.wait(timeout=STOP_WAIT_S)
        deadline = time.monotonic() + STOP_WAIT_S
        while embedded_servers(data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)

        assert embedded_servers(data_dir) == [], server.output()
        assert proc.returncode == 128 + signal.SIGTERM
    finally:
        _stop(server)
        for pid in embedded_servers(data_dir):  # a failed run must not leave a server behind
            os.kill(pid, signal.SIGKILL)
