"""Load generators: wrk (HTTP, Lua-scripted requests) and pgbench (the database floor).

A `Target` is one request shape against one server: a path and optional body in which ``{V}``
is replaced, per request, by a random integer in ``[lo, hi]`` or a random pick from ``choices``.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

LUA = r"""
local method, path, body, lo, hi = %(method)s, %(path)s, %(body)s, %(lo)d, %(hi)d
local choices = {%(choices)s}
local headers = {["Content-Type"] = "application/json"}
init = function(args) math.randomseed(os.time() + math.floor(os.clock() * 1000000)) end
request = function()
  local v
  if #choices > 0 then v = choices[math.random(#choices)] else v = tostring(math.random(lo, hi)) end
  local p = (path:gsub("{V}", v))
  local b = nil
  if body then b = (body:gsub("{V}", v)) end
  return wrk.format(method, p, headers, b)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"non2xx": %%d, "socket_errors": %%d}\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def lua_string(text: str) -> str:
    """A Lua long-bracket literal (no escapes needed); a newline right after ``[==[`` is dropped."""
    return "[==[\n" + text + "]==]"


@dataclass
class Target:
    """One request shape against one base URL."""

    url: str
    path: str
    body: str | None = None
    lo: int = 1
    hi: int = 1
    choices: list[str] = field(default_factory=list)

    def script(self) -> str:
        return LUA % {
            "method": lua_string("POST" if self.body is not None else "GET"),
            "path": lua_string(self.path),
            "body": lua_string(self.body) if self.body is not None else "nil",
            "lo": self.lo,
            "hi": self.hi,
            "choices": ", ".join(lua_string(c) for c in self.choices),
        }


@dataclass
class Sample:
    """One measured run."""

    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int = 0
    socket_errors: int = 0


@dataclass
class Result:
    """The median of several runs, or why there is none."""

    samples: list[Sample] = field(default_factory=list)
    skipped: str | None = None

    @property
    def rps(self) -> float:
        return statistics.median(s.rps for s in self.samples)

    @property
    def p50_ms(self) -> float:
        return statistics.median(s.p50_ms for s in self.samples)

    @property
    def p99_ms(self) -> float:
        return statistics.median(s.p99_ms for s in self.samples)

    @property
    def bad(self) -> int:
        return sum(s.non2xx + s.socket_errors for s in self.samples)


def wrk_available() -> str | None:
    """None when wrk is usable, else why not (after trying apt-get as root)."""
    if shutil.which("wrk"):
        return None
    import os

    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
        if shutil.which("wrk"):
            return None
        return "`apt-get install -y wrk` failed"
    return "wrk is not installed (run `sudo apt-get install -y wrk`; the suite installs it itself when run as root)"


def run_wrk(target: Target, seconds: float, connections: int = 8, threads: int = 2) -> Sample:
    """One wrk run; raises RuntimeError when wrk's report is missing."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(target.script())
        script = f.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{max(1, round(seconds))}s",
                "--latency",
                "-s",
                script,
                target.url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        Path(script).unlink(missing_ok=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no report: {out.stderr.strip() or out.stdout.strip()}"[:300])
    data = json.loads(line[6:])
    return Sample(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non2xx=data["non2xx"],
        socket_errors=data["socket_errors"],
    )


def pgbench_script(sql: str, params: list[object], variable: int | None, lo: int, hi: int) -> str:
    """A pgbench script running ``sql``: ``$n`` become ``:pn``; parameter ``variable`` is random in [lo, hi]."""
    lines = []
    for i, value in enumerate(params):
        if i == variable:
            lines.append(f"\\set p{i + 1} random({lo}, {hi})")
        elif isinstance(value, int) and not isinstance(value, bool):
            lines.append(f"\\set p{i + 1} {value}")
        else:
            raise ValueError(f"pgbench cannot bind parameter ${i + 1} ({type(value).__name__})")
    body = re.sub(r"\$(\d+)", lambda m: f":p{m.group(1)}", sql.strip().rstrip(";"))
    return "\n".join(lines) + "\n" + body + ";\n"


def run_pgbench(dsn: str, script: str, seconds: float, clients: int = 8, threads: int = 2) -> Sample:
    """One pgbench run (prepared statements); p50/p99 from its per-transaction log."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "script.sql"
        path.write_text(script)
        out = subprocess.run(
            [
                "pgbench",
                "-n",
                "-f",
                str(path),
                "-T",
                str(max(1, round(seconds))),
                "-c",
                str(clients),
                "-j",
                str(threads),
                "-M",
                "prepared",
                "-l",
                f"--log-prefix={tmp}/log",
                dsn,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"pgbench failed: {out.stderr.strip()[-300:]}")
        latencies = sorted(
            int(line.split()[2]) for log in Path(tmp).glob("log*") for line in log.read_text().splitlines()
        )
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out.stdout)
    if tps is None or not latencies:
        raise RuntimeError(f"pgbench gave no tps: {out.stdout[-300:]}")
    return Sample(
        rps=float(tps.group(1)),
        p50_ms=latencies[len(latencies) // 2] / 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1000,
    )
