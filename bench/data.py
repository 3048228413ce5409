"""The benchmark database: created once on the local server, generated once per size, then reused.

The size is recorded in ``bench.marker`` (its own schema, so PostGraphile's introspection of
``public`` never sees it). ``claims generate`` builds the corpus when ``db/generate.py`` exists;
otherwise (and the results say so) `FALLBACK_SQL` builds a corpus of the same shape inside
PostgreSQL: ~1 speaker per claim (1 in 10 has two), ~3 appearances per claim across N/2 sources
from 200 publishers, a mention and a topic per claim.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/claims_bench"

MARKER = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.marker (claims bigint NOT NULL, generator text NOT NULL,
                                         seconds real NOT NULL, built_at timestamptz NOT NULL DEFAULT now())
"""

WORDS = (  # noqa: SIM905 - a paragraph reads better than a hundred quoted words
    "economy sanctions energy gas oil grain border troops ceasefire negotiations election parliament "
    "budget inflation taxes pensions healthcare vaccine climate emissions nuclear security alliance "
    "treaty summit minister president spokesman ministry agreement talks pipeline exports imports "
    "tariffs currency bank rates growth recession unemployment wages strike protest court ruling "
    "investigation corruption reform constitution referendum coalition opposition campaign drone "
    "missile airport port railway bridge harbour refinery factory farm harvest drought flood storm "
    "wildfire earthquake hospital school university students teachers doctors police army navy "
    "sovereignty territory region capital city village province federal local international "
    "european asian african american russian ukrainian chinese german french british"
).split()

# $1 = number of claims. Runs with session_replication_role = replica: triggers (said_key copies,
# NOTIFY per claim) and FK checks are off, so the said_key copies are written here directly.
FALLBACK_SQL = """
SELECT setseed(0.42);
INSERT INTO topic (slug, name) SELECT 'topic-' || g, 'Topic ' || g FROM generate_series(1, 40) g
  ON CONFLICT DO NOTHING;
INSERT INTO entity (kind, name, name_norm)
SELECT CASE WHEN g <= 200 THEN 'organization' ELSE 'person' END,
       CASE WHEN g <= 200 THEN 'Publisher ' || g ELSE 'Person ' || g END,
       CASE WHEN g <= 200 THEN 'publisher ' || g ELSE 'person ' || g END
FROM generate_series(1, 200 + greatest($1 / 50, 50)) g;
INSERT INTO entity_alias (entity_id, alias, norm) SELECT id, name, name_norm FROM entity;
INSERT INTO source (key, kind, title, url, publisher_id, published_at, language)
SELECT 'url:https://news.example/' || g, 'news_article', 'Report ' || g, 'https://news.example/' || g,
       1 + (g % 200), timestamptz '2015-01-01' + (random() * 3650) * interval '1 day', 'en'
FROM generate_series(1, greatest($1 / 2, 1)) g;
INSERT INTO claim (fingerprint, content, kind, language, said_at, said_at_precision, first_reported_at)
SELECT md5('claim' || g),
       (SELECT string_agg(w[1 + floor(random() * cardinality(w))::int + 0 * i], ' ')
          FROM generate_series(1, 12 + (g % 7)) i WHERE g > 0),
       (ARRAY['direct_quote', 'partial_quote', 'paraphrase'])[1 + g % 3], 'en', t, 'day', t + interval '6 hours'
FROM (SELECT g, timestamptz '2015-01-01' + (random() * 3650) * interval '1 day' AS t
        FROM generate_series(1, $1) g) s, (SELECT $2::text[] AS w) words;
INSERT INTO claim_speaker (claim_id, entity_id, role, position, said_key)
SELECT c.id, 201 + (c.id * 7919) % greatest($1 / 50, 50), 'speaker', 0, c.said_key FROM claim c;
INSERT INTO claim_speaker (claim_id, entity_id, role, position, said_key)
SELECT c.id, 201 + (c.id * 104729 + 1) % greatest($1 / 50, 50), 'co_signatory', 1, c.said_key FROM claim c
WHERE c.id % 10 = 0 ON CONFLICT DO NOTHING;
INSERT INTO mention (claim_id, entity_id, said_key)
SELECT c.id, 201 + (c.id * 31 + 3) % greatest($1 / 50, 50), c.said_key FROM claim c;
INSERT INTO claim_topic (claim_id, topic_id, said_key)
SELECT c.id, (SELECT min(id) FROM topic) + c.id % 40, c.said_key FROM claim c;
INSERT INTO appearance (claim_id, source_id, quote)
SELECT c.id, 1 + (c.id * k * 7 + k) % greatest($1 / 2, 1), left(c.content, 200)
FROM claim c, generate_series(1, 3) k WHERE k <= 1 + c.id % 5 ON CONFLICT DO NOTHING;
"""


@dataclass(frozen=True)
class Dataset:
    """What the workloads need to know about the generated data."""

    dsn: str
    claims: int
    generator: str
    max_claim_id: int
    min_claim_id: int
    busy_speaker: int
    speakers: list[int]
    search_word: str


def admin_dsn(dsn: str) -> str:
    """The same server's ``postgres`` database (to CREATE DATABASE from)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/postgres"))


async def ensure_database(dsn: str) -> None:
    """Create the bench database when it is missing."""
    name = urlsplit(dsn).path.lstrip("/")
    conn = await asyncpg.connect(admin_dsn(dsn))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def current_size(dsn: str) -> tuple[int, str] | None:
    """(claims, generator) of the last completed build, or None."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(MARKER)
        row = await conn.fetchrow("SELECT claims, generator FROM bench.marker ORDER BY built_at DESC LIMIT 1")
        return None if row is None else (row["claims"], row["generator"])
    finally:
        await conn.close()


# Every table and index of the data set read through once (pg_prewarm's 'read' mode: into the OS
# cache, not shared_buffers), in the bench schema so PostGraphile's introspection of public misses it.
PREWARM = """
SELECT coalesce(sum(bench.pg_prewarm(c.oid::regclass, 'read')), 0)
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i')
"""


async def prewarm(dsn: str) -> str:
    """Read the data set into the OS cache before a phase; what was done, for the log.

    This VM reclaims page cache it has not touched for a while, so without this the first workload
    of a phase (REST getClaim, random ids over every claim) measured disk reads: rounds of 918,
    1,434, 1,597 req/s, p99 over 0.5 s, for the floor as much as for Claimsbase.
    """
    conn = await asyncpg.connect(dsn)
    try:
        try:
            await conn.execute(
                "CREATE SCHEMA IF NOT EXISTS bench; CREATE EXTENSION IF NOT EXISTS pg_prewarm SCHEMA bench"
            )
        except asyncpg.PostgresError as exc:
            return f"not prewarmed ({exc})"
        blocks = await conn.fetchval(PREWARM)
        return f"{blocks:,} blocks read into the OS cache"
    finally:
        await conn.close()


async def reset(dsn: str) -> None:
    """Drop everything (public schema and marker) so a build at another size starts clean."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA IF EXISTS bench CASCADE")
    finally:
        await conn.close()


def migrate(dsn: str) -> list[str]:
    """Apply the project's migrations (the same code `claims serve` runs); the versions applied."""
    from db.migrate import migrate as run

    return asyncio.run(run(dsn))


async def vacuum(dsn: str) -> None:
    """``VACUUM ANALYZE``: statistics, and the visibility map index-only scans need (a table a
    migration rewrote has none)."""
    conn = await asyncpg.connect(dsn, command_timeout=None)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def claims_command() -> str:
    """The ``claims`` console script of this venv (``python -m api.cli`` has no ``__main__`` guard
    and silently does nothing)."""
    return str(Path(sys.executable).with_name("claims"))


def generate_with_claims(dsn: str, n: int) -> None:
    """``claims generate --claims N`` (db/generate.py); fails unless it left N claims."""
    env = {**os.environ, "CLAIMS_DATABASE_URL": dsn, "CLAIMS_LOAD_DEMO": "false"}
    subprocess.run([claims_command(), "generate", "--claims", str(n)], env=env, check=True, stdout=subprocess.DEVNULL)
    found = asyncio.run(_count_claims(dsn))
    if found != n:
        raise subprocess.CalledProcessError(0, "claims generate", f"left {found} claims, not {n}")


async def _count_claims(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM claim"))
    finally:
        await conn.close()


async def generate_fallback(dsn: str, n: int) -> None:
    """`FALLBACK_SQL`, in one transaction."""
    conn = await asyncpg.connect(dsn, command_timeout=None)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            for statement in FALLBACK_SQL.split(";\n"):
                if statement.strip():
                    args = [n, list(WORDS)] if "$2" in statement else [n] if "$1" in statement else []
                    await conn.execute(statement, *args)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def build(dsn: str, n: int, log: Callable[[str], None]) -> str:
    """Make sure ``dsn`` holds a corpus of ``n`` claims; returns the generator used."""
    asyncio.run(ensure_database(dsn))
    found = asyncio.run(current_size(dsn))
    if found is not None and found[0] == n:
        log(f"data: reusing {n:,} claims in {dsn} (built by {found[1]})")
        applied = migrate(dsn)  # here, not in the first server's start-up, which has a deadline
        if applied:
            asyncio.run(vacuum(dsn))
            log(f"data: applied the migrations {', '.join(applied)} and vacuumed")
        return found[1]
    log(f"data: building {n:,} claims in {dsn} (was: {found})")
    asyncio.run(reset(dsn))
    migrate(dsn)
    started = time.monotonic()
    generator = "bench/data.py fallback SQL (db/generate.py absent)"
    if importlib.util.find_spec("db.generate") is not None:
        try:
            generate_with_claims(dsn, n)
            generator = "claims generate"
        except subprocess.CalledProcessError as exc:
            log(f"data: `claims generate` failed ({exc}); using the fallback generator")
            generator = f"bench/data.py fallback SQL (`claims generate` failed: exit {exc.returncode})"
            asyncio.run(reset(dsn))
            migrate(dsn)
    if generator != "claims generate":
        asyncio.run(generate_fallback(dsn, n))
    seconds = time.monotonic() - started
    asyncio.run(_mark(dsn, n, generator, seconds))
    log(f"data: built in {seconds:.0f} s by {generator}")
    return generator


async def _mark(dsn: str, n: int, generator: str, seconds: float) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(MARKER)
        await conn.execute(
            "INSERT INTO bench.marker (claims, generator, seconds) VALUES ($1, $2, $3)", n, generator, seconds
        )
    finally:
        await conn.close()


async def describe(dsn: str, n: int, generator: str) -> Dataset:
    """Ids and values the workloads draw from."""
    conn = await asyncpg.connect(dsn)
    try:
        lo, hi = await conn.fetchrow("SELECT min(id), max(id) FROM claim WHERE deleted_at IS NULL")
        busy = await conn.fetch(
            "SELECT entity_id FROM claim_speaker GROUP BY entity_id ORDER BY count(*) DESC, entity_id LIMIT 200"
        )
        word = await conn.fetchval(
            "SELECT word FROM ts_stat('SELECT search FROM claim WHERE id % 50 = 0') "
            "ORDER BY ndoc DESC LIMIT 1 OFFSET 20"
        )
    finally:
        await conn.close()
    speakers = [r["entity_id"] for r in busy]
    return Dataset(dsn, n, generator, hi, lo, speakers[0], speakers, word or "energy")
