"""The suite's embedded PostgreSQL is stopped, and waited for, before its folder is deleted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from db.embedded import postmaster_running

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent(
    """
    import asyncio, json, os
    from pathlib import Path

    import asyncpg

    from db.embedded import postmaster_pid


    def test_probe(server_dsn):
        async def data_directory():
            conn = await asyncpg.connect(server_dsn)
            try:
                return await conn.fetchval("SHOW data_directory")
            finally:
                await conn.close()

        pgdata = asyncio.run(data_directory())
        pid = postmaster_pid(Path(pgdata))
        Path(os.environ["PROBE_OUT"]).write_text(json.dumps({"pgdata": pgdata, "pid": pid}))
    """
)


def test_a_test_session_leaves_no_postmaster_of_its_own_running(tmp_path: Path) -> None:
    """A pytest session on the embedded server (the suite's own fixture) ends with its postmaster gone."""
    probe, out = tmp_path / "test_probe.py", tmp_path / "probe.json"
    probe.write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "CLAIMS_TEST_DATABASE_URL"}
    env["PROBE_OUT"] = str(out)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-c", str(ROOT / "pyproject.toml"), str(probe)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    seen = json.loads(out.read_text())
    assert isinstance(seen["pid"], int), seen
    assert not postmaster_running(seen["pid"]), f"postmaster {seen['pid']} outlived the session"
    assert not Path(seen["pgdata"]).exists()
