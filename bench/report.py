"""The results table: printed, and written to bench/RESULTS.md with the machine and the command."""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.importing import ImportResult
from bench.load import Result

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
ROOT = RESULTS.parent.parent


@dataclass
class Row:
    """One line of the table: a workload on one implementation, with what it is compared to."""

    workload: str
    implementation: str
    workers: str
    result: Result
    vs_floor: Result | None = None
    vs_peer: Result | None = None
    note: str = ""


@dataclass
class Report:
    """Everything one run found."""

    command: str
    settings: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def _ratio(a: Result, b: Result | None) -> str:
    if b is None:
        return ""
    if a.skipped or b.skipped or not a.samples or not b.samples or b.rps == 0:
        return "n/a"
    return f"{a.rps / b.rps:.2f}×"


def _rounds(a: Result, b: Result | None, against: str) -> str | None:
    """The lowest and highest ratio of ``a`` to ``b`` round by round (the rounds interleave the
    implementations, so round i of each ran side by side): how far one run's ratio can be trusted."""
    if b is None or a.skipped or b.skipped or len(a.samples) < 2 or len(a.samples) != len(b.samples):
        return None
    ratios = [x.rps / y.rps for x, y in zip(a.samples, b.samples, strict=True) if y.rps > 0]
    if len(ratios) < 2:
        return None
    return f"rounds {min(ratios):.2f}–{max(ratios):.2f}× {against}"


def _cell(r: Result) -> tuple[str, str, str]:
    if r.skipped:
        return "not run", "", ""
    return f"{r.rps:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"


def import_table(r: ImportResult) -> list[str]:
    """The bulk-import section: the import against both COPY baselines (claims per second)."""
    return [
        "## Bulk import",
        "",
        "| path | claims/s | share of COPY (scratch table) | share of COPY (real tables) |",
        "| --- | ---: | ---: | ---: |",
        f"| {r.how} | {r.claims_per_s:,.0f} | {r.claims_per_s / r.copy_scratch_per_s:.1%} "
        f"| {r.claims_per_s / r.copy_real_per_s:.1%} |",
        f"| plain `COPY` of the same rows (one row per claim), scratch table | {r.copy_scratch_per_s:,.0f} | 100% | |",
        "| plain `COPY` of the same claims as normalised rows into the real tables (claim, claim_speaker, "
        "appearance with their indexes and triggers; entities and sources inserted first, untimed) "
        f"| {r.copy_real_per_s:,.0f} | {r.copy_real_per_s / r.copy_scratch_per_s:.1%} | 100% |",
    ]


def table(rows: list[Row]) -> str:
    """The markdown table."""
    out = [
        "| workload | implementation | workers | req/s | p50 ms | p99 ms | vs floor | vs PostGraphile | notes |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        rps, p50, p99 = _cell(row.result)
        notes = [row.note] if row.note else []
        if row.result.skipped:
            notes.append(row.result.skipped)
        elif row.result.bad:
            notes.append(f"**{row.result.bad} non-2xx/socket errors**")
        for other, against in ((row.vs_floor, "the floor"), (row.vs_peer, "PostGraphile")):
            if (spread := _rounds(row.result, other, against)) is not None:
                notes.append(spread)
        out.append(
            f"| {row.workload} | {row.implementation} | {row.workers} | {rps} | {p50} | {p99} | "
            f"{_ratio(row.result, row.vs_floor)} | {_ratio(row.result, row.vs_peer)} | {'; '.join(notes)} |"
        )
    return "\n".join(out)


def machine(dsn: str) -> list[str]:
    """nproc, CPU model, PostgreSQL version, kernel, Python."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    pg = subprocess.run(
        ["psql", dsn, "-Atc", "SHOW server_version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- code: {commit()}",
        f"- machine: {nproc} cores (`nproc`), CPU {cpu}, {platform.system()} {platform.release()}",
        f"- PostgreSQL {pg or 'unknown'} at {dsn.rsplit('@', 1)[-1]} (the local server over TCP, not the embedded one)",
        f"- Python {platform.python_version()}",
    ]


def commit() -> str:
    """The checkout's commit, and whether tracked files (but this report) differ from it: the
    figures are that code's."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip() if out.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/RESULTS.md")
    return f"commit {head}" + (" with uncommitted changes to tracked files" if dirty else "")


def write(report: Report, dsn: str) -> str:
    """Write bench/RESULTS.md and return its text."""
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            "Generated by `make bench` (bench/README.md explains every row). Rerun to replace.",
            "",
            f"- command: `{report.command}`",
            *machine(dsn),
            *report.settings,
            "",
            table(report.rows),
            "",
            *report.extra,
            "",
        ]
    )
    RESULTS.write_text(text)
    return text
