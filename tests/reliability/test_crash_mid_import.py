"""Crash mid-import: `kill -9` the server while it streams a bulk NDJSON import; afterwards no source
is half written, and running the same import again on a new server completes without a duplicate.

Every document says what it holds: its title carries its number of claims, each quote's content
carries its number of speakers and mentions, so a source missing an appearance, or a claim missing
a speaker or mention, shows in SQL whatever the moment of the kill.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson

from db.database import Database
from db.keys import create_key
from tests.reliability.serving import claims_server

DOCUMENTS = 2000
QUOTES = 4000
PEOPLE = 40
PLACES = 8
KILL_AFTER_SOURCES = DOCUMENTS // 5  # then kill -9
NDJSON = {"content-type": "application/x-ndjson"}


def person(p: int) -> dict[str, Any]:
    return {"name": f"Speaker Number{p:02d}", "kind": "person", "aliases": [f"Number{p:02d}"]}


def quote(j: int) -> dict[str, Any]:
    """Quote ``j``: its speakers and mentions are a function of ``j``, and its content counts them."""
    rng = random.Random(j)
    speakers = rng.sample(range(PEOPLE), 1 + j % 3)
    mentions = rng.sample(range(PLACES), j % 3)
    content = f"quote {j} has speakers={len(speakers)} mentions={len(mentions)} and says something plain"
    return {
        "content": content,
        "said_at": "2025-10-01",
        "speakers": [{"entity": person(p)} for p in speakers],
        "mentions": [{"name": f"Place {m}", "kind": "place"} for m in mentions],
        "topics": [f"topic-{j % 5}"],
        "appearance": {"quote": content},
    }


def documents() -> list[dict[str, Any]]:
    """DOCUMENTS documents of 2 to 4 claims; quotes recur across documents (more outlets, one claim)."""
    rng = random.Random(1)
    docs = []
    for i in range(DOCUMENTS):
        chosen = sorted(set(rng.sample(range(QUOTES), 2 + i % 3)))
        docs.append(
            {
                "source": {
                    "kind": "news_article",
                    "title": f"import {i} claims={len(chosen)}",
                    "url": f"https://wire.example/{i}",
                    "publisher": {"name": f"Wire {i % 6}", "kind": "organization"},
                    "published_at": "2025-10-02T08:00:00Z",
                },
                "claims": [quote(j) for j in chosen],
            }
        )
    return docs


def body(docs: list[dict[str, Any]]) -> Iterator[bytes]:
    """The NDJSON body, streamed a few lines per chunk."""
    for start in range(0, len(docs), 10):
        yield b"".join(orjson.dumps(d) + b"\n" for d in docs[start : start + 10])


async def async_body(docs: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for chunk in body(docs):
        yield chunk


def expected_counts(docs: list[dict[str, Any]]) -> dict[str, int]:
    """What one clean import of ``docs`` leaves: computed from the documents, not from a database."""
    quotes = {c["content"]: c for d in docs for c in d["claims"]}
    people = {s["entity"]["name"] for c in quotes.values() for s in c["speakers"]}
    places = {m["name"] for c in quotes.values() for m in c["mentions"]}
    publishers = {d["source"]["publisher"]["name"] for d in docs}
    return {
        "source": len(docs),
        "claim": len(quotes),
        "appearance": sum(len(d["claims"]) for d in docs),
        "claim_speaker": sum(len(c["speakers"]) for c in quotes.values()),
        "mention": sum(len(c["mentions"]) for c in quotes.values()),
        "claim_topic": len(quotes),
        "topic": len({t for c in quotes.values() for t in c["topics"]}),
        "entity": len(people) + len(places) + len(publishers),
        "entity_alias": 2 * len(people) + len(places) + len(publishers),
    }


COUNTS = "SELECT " + ", ".join(
    f"(SELECT count(*) FROM {t}) AS {t}"
    for t in (
        "source",
        "claim",
        "appearance",
        "claim_speaker",
        "mention",
        "claim_topic",
        "topic",
        "entity",
        "entity_alias",
    )
)
# Sources whose appearances are fewer than their title says, and claims whose speakers or mentions
# are fewer than their content says: what a half-written document would leave.
HALF_WRITTEN_SOURCES = """
SELECT s.id, s.title, count(a.id) AS appearances FROM source s LEFT JOIN appearance a ON a.source_id = s.id
GROUP BY s.id HAVING count(a.id) <> substring(s.title FROM 'claims=([0-9]+)')::int
"""
HALF_WRITTEN_CLAIMS = """
SELECT c.id, c.content,
       (SELECT count(*) FROM claim_speaker s WHERE s.claim_id = c.id) AS speakers,
       (SELECT count(*) FROM mention m WHERE m.claim_id = c.id) AS mentions,
       (SELECT count(*) FROM claim_topic t WHERE t.claim_id = c.id) AS topics,
       (SELECT count(*) FROM appearance a WHERE a.claim_id = c.id) AS appearances
FROM claim c
WHERE (SELECT count(*) FROM claim_speaker s WHERE s.claim_id = c.id)
        <> substring(c.content FROM 'speakers=([0-9]+)')::int
   OR (SELECT count(*) FROM mention m WHERE m.claim_id = c.id) <> substring(c.content FROM 'mentions=([0-9]+)')::int
   OR NOT EXISTS (SELECT 1 FROM claim_topic t WHERE t.claim_id = c.id)
   OR NOT EXISTS (SELECT 1 FROM appearance a WHERE a.claim_id = c.id)
"""


async def backends(db: Database) -> set[int]:
    """The client connections to this database, by server process id."""
    rows = await db.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
    )
    return {int(r["pid"]) for r in rows}


async def gone(db: Database, ours: set[int]) -> None:
    """Wait until every connection but ``ours`` has ended: a killed server's connections end when
    PostgreSQL reads their closed sockets, after a COMMIT already sent is applied — reading the
    counts before then can miss a document that commits a moment later."""
    for _ in range(400):
        if not (await backends(db) - ours):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the killed server's connections are still open: {await backends(db) - ours}")


async def counts(db: Database) -> dict[str, int]:
    row = await db.fetchrow(COUNTS)
    assert row is not None
    return dict(row)


async def test_a_server_killed_mid_import_leaves_no_half_written_source_and_the_rerun_adds_no_duplicate(
    db: Database, server_dsn: str
) -> None:
    docs = documents()
    key = (await create_key(db, ["write"], name="crash import")).secret
    headers = {**NDJSON, "X-API-Key": key}
    outcome: list[BaseException | httpx.Response] = []
    ours = await backends(db)

    with claims_server(server_dsn) as server:

        def stream() -> None:
            try:
                with httpx.Client(base_url=server.base, timeout=300) as http:
                    outcome.append(http.post("/v1/import", content=body(docs), headers=headers))
            except BaseException as exc:
                outcome.append(exc)

        sender = threading.Thread(target=stream, daemon=True)
        sender.start()
        # A stuck server cannot keep this loop going: the sender's client gives up after its timeout.
        while await db.fetchval("SELECT count(*) FROM source") < KILL_AFTER_SOURCES:
            assert sender.is_alive(), f"the import ended before the kill: {outcome}"
            await asyncio.sleep(0.05)
        server.kill()
        sender.join(timeout=60)
    assert not sender.is_alive()
    assert outcome and isinstance(outcome[0], httpx.TransportError), f"the import was not cut short: {outcome}"

    await gone(db, ours)
    partial = await counts(db)
    print("written before the kill:", partial)
    assert KILL_AFTER_SOURCES <= partial["source"] < DOCUMENTS
    assert await db.fetch(HALF_WRITTEN_SOURCES) == []
    assert await db.fetch(HALF_WRITTEN_CLAIMS) == []

    with claims_server(server_dsn) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=600) as http:
            response = await http.post("/v1/import", content=async_body(docs), headers=headers)
    assert response.status_code == 200, response.text[:500]
    report = response.json()
    statuses = {line["status"] for line in report["lines"]}
    print("rerun:", {k: report[k] for k in ("created", "unchanged", "failed")})
    assert statuses <= {"created", "unchanged"}, [line for line in report["lines"] if line["status"] == "error"][:3]
    assert len(report["lines"]) == DOCUMENTS
    # What was committed before the kill is known already; the line cut short was rolled back whole.
    assert (report["unchanged"], report["created"]) == (partial["source"], DOCUMENTS - partial["source"])

    assert await counts(db) == expected_counts(docs)
    assert await db.fetch(HALF_WRITTEN_SOURCES) == []
    assert await db.fetch(HALF_WRITTEN_CLAIMS) == []
