"""Bulk import: NDJSON source documents through `claims load` against a plain COPY of the same rows.

Both run in a scratch database (``<bench db>_import``, recreated each run) so the read benchmark's
data set never changes. The documents look like the generated corpus: 5 claims per source, one
speaker each from a pool of 500 people, 20 publishers, ~12-word contents.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import random
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.data import WORDS, admin_dsn, claims_command

CLAIMS_PER_DOC = 5
COPY_TABLE = """
CREATE TABLE bench_copy (url text, title text, publisher text, published_at timestamptz,
                         speaker text, content text, kind text, said_at timestamptz, quote text)
"""


def documents(n_claims: int, seed: int = 7) -> list[dict[str, object]]:
    """Source documents holding ``n_claims`` claims in all."""
    rng = random.Random(seed)
    docs = []
    for d in range(max(1, n_claims // CLAIMS_PER_DOC)):
        day = f"20{15 + d % 10}-{1 + d % 12:02d}-{1 + d % 28:02d}"
        claims = []
        for k in range(CLAIMS_PER_DOC):
            content = " ".join(rng.choice(WORDS) for _ in range(12)) + f" {d}-{k}"
            claims.append(
                {
                    "content": content,
                    "kind": "paraphrase",
                    "language": "en",
                    "said_at": day,
                    "said_at_precision": "day",
                    "speakers": [{"entity": {"name": f"Bulk Person {rng.randrange(500)}", "kind": "person"}}],
                    "appearance": {"quote": content},
                }
            )
        docs.append(
            {
                "source": {
                    "kind": "news_article",
                    "title": f"Bulk report {d}",
                    "url": f"https://bulk.example/{d}",
                    "publisher": {"name": f"Bulk Publisher {d % 20}", "kind": "organization"},
                    "published_at": day,
                    "language": "en",
                },
                "claims": claims,
            }
        )
    return docs


def copy_rows(docs: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """The same claims flattened to one row each, as COPY takes them."""
    from datetime import UTC, datetime

    rows = []
    for doc in docs:
        s = doc["source"]
        assert isinstance(s, dict)
        published = datetime.fromisoformat(s["published_at"]).replace(tzinfo=UTC)
        for c in doc["claims"]:  # type: ignore[attr-defined]
            rows.append(
                (
                    s["url"],
                    s["title"],
                    s["publisher"]["name"],
                    published,
                    c["speakers"][0]["entity"]["name"],
                    c["content"],
                    c["kind"],
                    published,
                    c["appearance"]["quote"],
                )
            )
    return rows


async def _fresh_database(dsn: str) -> None:
    name = urlsplit(dsn).path.lstrip("/")
    conn = await asyncpg.connect(admin_dsn(dsn))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _copy(dsn: str, rows: list[tuple[object, ...]]) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(COPY_TABLE)
        started = time.perf_counter()
        await conn.copy_records_to_table("bench_copy", records=rows)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def _write_directly(dsn: str, docs: list[dict[str, object]]) -> float:
    """Fallback when `claims load` is absent: the same writer it would call, one document at a time."""
    from db.database import Database
    from db.documents import write_source_document
    from schema.documents import SourceDocument

    db = Database(dsn, statement_timeout_ms=600_000)
    await db.connect()
    try:
        parsed = [SourceDocument.model_validate(d) for d in docs]
        started = time.perf_counter()
        for doc in parsed:
            await write_source_document(db, doc)
        return time.perf_counter() - started
    finally:
        await db.close()


def run(bench_dsn: str, n_claims: int) -> tuple[float, float, str]:
    """(claims/s imported, rows/s copied, how the import ran)."""
    parts = urlsplit(bench_dsn)
    dsn = urlunsplit(parts._replace(path=parts.path + "_import"))
    docs = documents(n_claims)
    total = len(docs) * CLAIMS_PER_DOC
    asyncio.run(_fresh_database(dsn))
    from db.migrate import migrate

    asyncio.run(migrate(dsn))
    if importlib.util.find_spec("api.importers") is not None:
        path = Path(__file__).resolve().parent / ".data" / "import.ndjson"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(d) + "\n" for d in docs))
        env = {**os.environ, "CLAIMS_DATABASE_URL": dsn, "CLAIMS_LOAD_DEMO": "false"}
        started = time.perf_counter()
        subprocess.run([claims_command(), "load", "--quiet", str(path)], env=env, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        how = f"`claims load` of {len(docs):,} NDJSON documents (process start and migration check included)"
    else:
        seconds = asyncio.run(_write_directly(dsn, docs))
        how = (
            f"`claims load` absent (no api/importers.py): db.documents.write_source_document, "
            f"{len(docs):,} documents one transaction each"
        )
    copy_seconds = asyncio.run(_copy(dsn, copy_rows(docs)))
    return total / seconds, total / copy_seconds, how
