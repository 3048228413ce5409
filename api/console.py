"""What the `claims` command says to people: setup errors in a line or two, progress, summaries.

A wrong database URL is the first thing a user pointing Claimsbase at their own PostgreSQL meets;
it deserves a sentence naming the setting, the server and the cause, not a page of traceback.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import click
from tqdm import tqdm

from db.database import DatabaseUnavailable

# Exit status of a command that could not start because of its setup (as click's usage errors).
SETUP_FAILED = 2

# Raised while reaching PostgreSQL: the URL, the network, the server's answer to the connection.
CONNECTING = (OSError, OverflowError, asyncpg.PostgresError, asyncpg.InterfaceError, DatabaseUnavailable, ValueError)


class SetupError(click.ClickException):
    """A command that cannot run as configured: click prints ``Error: <message>`` and exits 2."""

    exit_code = SETUP_FAILED


def debugging() -> bool:
    """Whether ``claims --debug`` was given (tracebacks wanted instead of sentences)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("debug"))


def target(dsn: str) -> str:
    """Where a URL points, without its password: ``127.0.0.1:5432, database "x"``."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or ["localhost"])[0]
    try:
        port = str(parts.port or (query.get("port") or ["5432"])[0])
    except ValueError:  # out of range: shown as written
        port = parts.netloc.rpartition(":")[2]
    database = parts.path.lstrip("/") or (query.get("dbname") or [parts.username or "postgres"])[0]
    where = host if host.startswith("/") else f"{host}:{port}"
    return f'{where}, database "{database}"'


def connection_problem(exc: BaseException, dsn: str, setting: str) -> SetupError:
    """The one or two lines that say why ``dsn`` (from ``setting``) cannot be used."""
    hint = f"check {setting}; `claims --debug …` shows the traceback"
    at = target(dsn)
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        cause = f"cannot use PostgreSQL at {at}: the database does not exist"
    elif isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        cause = f"PostgreSQL at {at} refused the login: {exc}"
    elif isinstance(exc, asyncpg.ClientConfigurationError | ValueError | OverflowError) and not isinstance(
        exc, OSError
    ):
        cause = f"{setting} is not a usable PostgreSQL URL: {exc}"
    elif isinstance(exc, socket.gaierror):
        cause = f"cannot connect to PostgreSQL at {at}: the host name does not resolve ({exc.strerror})"
    elif isinstance(exc, ConnectionRefusedError):
        cause = f"cannot connect to PostgreSQL at {at}: connection refused (nothing listens there)"
    elif isinstance(exc, TimeoutError):
        cause = f"cannot connect to PostgreSQL at {at}: no answer in time"
    elif isinstance(exc, OSError):
        cause = f"cannot connect to PostgreSQL at {at}: {exc.strerror or exc}"
    else:
        cause = f"PostgreSQL at {at} cannot be used: {exc}"
    return SetupError(f"{cause}\n  {hint}")


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served on (in use, not an address of this machine), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def load_summary(summary: dict[str, Any]) -> Iterator[str]:
    """The human lines of a load report (`LoadReport.summary`)."""
    files = summary["files"]
    yield (
        f"Loaded {_n(summary['records'], 'record')} from {_n(len(files), 'file')} in {summary['seconds']:.1f} s:"
        f" {summary['written']:,} written, {summary['failed']:,} failed."
    )
    yield (
        f"  created {_n(summary['claims_created'], 'claim')}, {_n(summary['sources_created'], 'source')},"
        f" {_n(summary['appearances_created'], 'appearance')}, {_n(summary['entities_created'], 'entity')}"
        f" ({_n(summary['unchanged'], 'document')} already there)"
    )
    failures: Sequence[dict[str, Any]] = summary["failures"]
    if failures:
        yield f"  first failures ({len(failures)} shown; `--json` gives the report as data):"
        for f in failures:
            yield f"    {f['file']}:{f['line']} {f['field'] or '(record)'}: {f['reason']}"


class PhaseBar:
    """A progress bar over a run's phases, with the rows written so far; its clock ticks every second
    even while one long statement runs (``disable=None``: shown only when stderr is a terminal)."""

    def __init__(self, desc: str, total: int, *, disable: bool | None = None) -> None:
        self.bar = tqdm(total=total, desc=desc, unit="phase", disable=disable, bar_format=PHASE_FORMAT)
        self.rows = 0
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)

    def phase(self, name: str, rows: int | None) -> None:
        """`db.generate.Progress`: ``rows`` None as ``name`` starts, the rows it wrote as it ends."""
        if rows is None:
            self.bar.set_postfix_str(f"{name}…, {self.rows:,} rows")
            return
        self.rows += rows
        self.bar.set_postfix_str(f"{name} done, {self.rows:,} rows", refresh=False)
        self.bar.update(1)

    def _tick(self) -> None:
        while not self.stop.wait(1.0):
            self.bar.refresh()

    def __enter__(self) -> PhaseBar:
        if not self.bar.disable:
            self.ticker.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop.set()
        if self.ticker.is_alive():
            self.ticker.join()
        self.bar.close()


PHASE_FORMAT = "{desc}: {n_fmt}/{total_fmt} phases |{bar}| {elapsed}{postfix}"


def generate_summary(stats: dict[str, Any]) -> Iterator[str]:
    """The human lines of `db.generate.generate_corpus`'s statistics."""
    added, seconds = stats["added"], stats["seconds"]
    yield (
        f"Added {_n(added['claims'], 'claim')}, {_n(added['sources'], 'source')} and"
        f" {_n(added['entities'], 'entity')} in {seconds['total']:.1f} s"
        f" (claim ids from {stats['first_ids']['claim']:,})."
    )
    yield "  now: " + ", ".join(f"{table} {n:,}" for table, n in stats["totals"].items())


def keys_table(keys: Sequence[Any]) -> Iterator[str]:
    """`db.keys.ApiKey` rows as aligned columns under a header (never a secret)."""
    rows = [("PREFIX", "SCOPES", "STATE", "CREATED", "LAST USED", "NAME")]
    for k in keys:
        used = k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "never"
        state = "revoked" if k.revoked_at else "active"
        rows.append((k.prefix, ",".join(k.scopes), state, k.created_at.strftime("%Y-%m-%d %H:%M"), used, k.name))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        yield "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]


def _n(count: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{count:,} {noun if count == 1 else plural}"
