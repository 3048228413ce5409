"""A tiny migration runner: versioned SQL files, each in its own transaction, under an advisory lock.

Several workers starting at once all call `migrate`; the lock makes one of them apply the
pending files while the others wait, then find nothing left to do.
"""

from __future__ import annotations

import logging
from importlib import resources

import asyncpg

log = logging.getLogger("claims.db")

# pg_advisory_lock key: the ASCII of "claimsdb".
MIGRATION_LOCK = 0x636C61696D736462

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migration (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
APPLIED = "SELECT version FROM schema_migration"
RECORD = "INSERT INTO schema_migration (version) VALUES ($1)"


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every file under db/migrations, in order."""
    folder = resources.files("db") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


async def migrate(dsn: str) -> list[str]:
    """Apply pending migrations; returns the versions this call applied."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            await conn.execute(CREATE_TABLE)
            done = {r["version"] for r in await conn.fetch(APPLIED)}
            applied = []
            for version, sql in migration_files():
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(RECORD, version)
                log.info("applied migration %s", version, extra={"version": version})
                applied.append(version)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    finally:
        await conn.close()


async def pending(conn: asyncpg.Connection) -> list[str]:
    """Versions not yet applied (all of them when the table is missing)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migration') IS NOT NULL")
    done = {r["version"] for r in await conn.fetch(APPLIED)} if exists else set()
    return [v for v, _ in migration_files() if v not in done]
