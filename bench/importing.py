"""Bulk import: NDJSON source documents through `claims load` against plain COPYs of the same claims.

Two baselines: a COPY of one row per claim into an unindexed scratch table (what PostgreSQL takes
in at best), and a COPY of the same claims as already-normalised rows into the real tables (claim,
claim_speaker, appearance, with their indexes and triggers; the entities and sources they refer to
inserted first, untimed): what writing these rows costs the store whoever writes them. All run in
scratch databases (``<bench db>_import``, ``<bench db>_import_copy``, recreated each run) so the
read benchmark's data set never changes. The documents look like the generated corpus: 5 claims per source, one
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
from dataclasses import dataclass
from datetime import UTC, datetime
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


@dataclass
class ImportResult:
    """Claims per second through `claims load` and through each COPY baseline."""

    claims_per_s: float
    copy_scratch_per_s: float
    copy_real_per_s: float
    how: str


def copy_rows(docs: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """The same claims flattened to one row each, as COPY takes them."""
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


async def _copy_into_the_store(dsn: str, docs: list[dict[str, object]]) -> float:
    """Seconds to COPY the claims, their speakers and appearances into the real tables of a migrated
    database, as the import leaves them (fingerprints, first_reported_at); entities and sources are
    inserted first, untimed. The tables start empty, so claim ids are 1, 2, … in COPY order."""
    from db.normalize import claim_fingerprint, name_norm

    conn = await asyncpg.connect(dsn)
    try:
        names: dict[tuple[str, str], int] = {}
        for doc in docs:
            s = doc["source"]
            assert isinstance(s, dict)
            people = [(c["speakers"][0]["entity"]["name"], "person") for c in doc["claims"]]  # type: ignore[attr-defined]
            for name, kind in [(s["publisher"]["name"], "organization"), *people]:
                names.setdefault((name, kind), len(names) + 1)
        await conn.copy_records_to_table(
            "entity", records=[(k, n, name_norm(n)) for n, k in names], columns=["kind", "name", "name_norm"]
        )
        await conn.copy_records_to_table(
            "entity_alias",
            records=[(i, n, name_norm(n)) for (n, _), i in names.items()],
            columns=["entity_id", "alias", "norm"],
        )
        claims, speakers, appearances, sources = [], [], [], []
        for d, doc in enumerate(docs, 1):
            s = doc["source"]
            assert isinstance(s, dict)
            published = datetime.fromisoformat(s["published_at"]).replace(tzinfo=UTC)
            publisher = names[(s["publisher"]["name"], "organization")]
            sources.append(("url:" + s["url"], s["kind"], s["title"], s["url"], publisher, published, s["language"]))
            for c in doc["claims"]:  # type: ignore[attr-defined]
                speaker = names[(c["speakers"][0]["entity"]["name"], "person")]
                said = datetime.fromisoformat(c["said_at"]).replace(tzinfo=UTC)
                fingerprint = claim_fingerprint([speaker], c["content"])
                claims.append((fingerprint, c["content"], c["kind"], c["language"], said, "day", published))
                speakers.append((len(claims), speaker, "speaker", 0))
                appearances.append((len(claims), d, c["appearance"]["quote"]))
        columns = ["key", "kind", "title", "url", "publisher_id", "published_at", "language"]
        await conn.copy_records_to_table("source", records=sources, columns=columns)
        started = time.perf_counter()
        columns = ["fingerprint", "content", "kind", "language", "said_at", "said_at_precision", "first_reported_at"]
        await conn.copy_records_to_table("claim", records=claims, columns=columns)
        await conn.copy_records_to_table(
            "claim_speaker", records=speakers, columns=["claim_id", "entity_id", "role", "position"]
        )
        await conn.copy_records_to_table("appearance", records=appearances, columns=["claim_id", "source_id", "quote"])
        return time.perf_counter() - started
    finally:
        await conn.close()


def run(bench_dsn: str, n_claims: int) -> ImportResult:
    """Claims/s imported, and through the two COPY baselines."""
    parts = urlsplit(bench_dsn)
    dsn = urlunsplit(parts._replace(path=parts.path + "_import"))
    copy_dsn = urlunsplit(parts._replace(path=parts.path + "_import_copy"))
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
    asyncio.run(_fresh_database(copy_dsn))
    asyncio.run(migrate(copy_dsn))
    real_seconds = asyncio.run(_copy_into_the_store(copy_dsn, docs))
    return ImportResult(total / seconds, total / copy_seconds, total / real_seconds, how)
