"""`claims generate`: a synthetic corpus that the store's own rules would have written, added in bulk."""

from __future__ import annotations

import httpx
import pytest

from bench.queries import FEED
from db.database import Database
from db.generate import generate_corpus
from db.normalize import claim_fingerprint, name_norm, source_key

N = 2000

# Each query counts rows breaking one rule the writer or the triggers would have kept.
BROKEN = {
    "claims without a speaker": "SELECT count(*) FROM claim c WHERE NOT EXISTS "
    "(SELECT 1 FROM claim_speaker s WHERE s.claim_id = c.id)",
    "claims without an appearance": "SELECT count(*) FROM claim c WHERE NOT EXISTS "
    "(SELECT 1 FROM appearance a WHERE a.claim_id = c.id)",
    "first_reported_at not the earliest report": """SELECT count(*) FROM claim c
        WHERE c.first_reported_at IS DISTINCT FROM (SELECT min(s.published_at) FROM appearance a
                                                    JOIN source s ON s.id = a.source_id WHERE a.claim_id = c.id)""",
    "speaker said_key stale": "SELECT count(*) FROM claim_speaker l JOIN claim c ON c.id = l.claim_id "
    "WHERE l.said_key <> c.said_key",
    "mention said_key stale": "SELECT count(*) FROM mention l JOIN claim c ON c.id = l.claim_id "
    "WHERE l.said_key <> c.said_key",
    "topic said_key stale": "SELECT count(*) FROM claim_topic l JOIN claim c ON c.id = l.claim_id "
    "WHERE l.said_key <> c.said_key",
    "dangling speaker": "SELECT count(*) FROM claim_speaker l LEFT JOIN entity e ON e.id = l.entity_id "
    "WHERE e.id IS NULL",
    "dangling mention": "SELECT count(*) FROM mention l LEFT JOIN entity e ON e.id = l.entity_id WHERE e.id IS NULL",
    "dangling topic": "SELECT count(*) FROM claim_topic l LEFT JOIN topic t ON t.id = l.topic_id WHERE t.id IS NULL",
    "dangling source": "SELECT count(*) FROM appearance a LEFT JOIN source s ON s.id = a.source_id WHERE s.id IS NULL",
    "dangling publisher": "SELECT count(*) FROM source s LEFT JOIN entity e ON e.id = s.publisher_id "
    "WHERE s.publisher_id IS NOT NULL AND e.id IS NULL",
    "entity whose name is not an alias": "SELECT count(*) FROM entity e WHERE NOT EXISTS "
    "(SELECT 1 FROM entity_alias a WHERE a.entity_id = e.id AND a.norm = e.name_norm)",
    "claim said in the future": "SELECT count(*) FROM claim WHERE said_at > now()",
    "claim reported before it was said": "SELECT count(*) FROM claim WHERE first_reported_at < said_at",
}


SCHEMA = """
SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition FROM pg_index
WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
UNION ALL
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
ORDER BY 1, 2
"""


async def broken_rules(db: Database) -> dict[str, int]:
    return {rule: n for rule, sql in BROKEN.items() if (n := await db.fetchval(sql))}


async def test_a_small_corpus_has_the_promised_shape(db: Database) -> None:
    schema = await db.fetch(SCHEMA)
    stats = await generate_corpus(db, N, seed=7)
    assert await db.fetch(SCHEMA) == schema  # the indexes and constraints dropped for speed are back
    added = stats["added"]
    assert added["claims"] == N
    assert added["sources"] == N // 2
    assert 1.05 * N <= added["claim_speakers"] <= 1.15 * N
    assert 2.0 * N <= added["appearances"] <= 3.0 * N
    assert 0.9 * N <= added["mentions"] <= 1.1 * N
    assert added["entities"] == N // 50 + 200
    assert stats["totals"]["claim"] == N
    assert await broken_rules(db) == {}
    # A few speakers say most claims: the busiest 10 % of people say at least a third of them.
    top = await db.fetchval(
        "SELECT sum(n) FROM (SELECT count(*) AS n FROM claim_speaker GROUP BY entity_id ORDER BY n DESC LIMIT $1) t",
        N // 50 // 10,
    )
    assert top >= N / 3


async def test_generated_rows_carry_the_identities_the_writer_computes(db: Database) -> None:
    await generate_corpus(db, N, seed=3)
    claims = await db.fetch(
        "SELECT c.fingerprint, c.content, array_agg(s.entity_id) AS speakers FROM claim c "
        "JOIN claim_speaker s ON s.claim_id = c.id GROUP BY c.id"
    )
    assert all(r["fingerprint"] == claim_fingerprint(r["speakers"], r["content"]) for r in claims)
    names = await db.fetch("SELECT alias AS name, norm FROM entity_alias UNION ALL SELECT name, name_norm FROM entity")
    assert all(r["norm"] == name_norm(r["name"]) for r in names)
    assert any(r["name"] != r["norm"] for r in names)  # accents and capitals, normalised
    sources = await db.fetch("SELECT key, kind, title, url, publisher_id, published_at FROM source")
    assert all(
        r["key"] == source_key(**{k: r[k] for k in ("kind", "title", "url", "publisher_id", "published_at")})
        for r in sources
    )


async def test_running_twice_adds_a_second_corpus_beside_the_first(db: Database) -> None:
    first = await generate_corpus(db, N, seed=1)
    second = await generate_corpus(db, N, seed=1)
    assert second["first_ids"]["claim"] == N + 1
    assert second["added"]["entities"] == N // 50  # the outlets of the first run are reused
    assert second["totals"]["claim"] == 2 * N
    assert second["totals"]["appearance"] == first["added"]["appearances"] + second["added"]["appearances"]
    assert await broken_rules(db) == {}
    # The store's own writes still get fresh ids after the generated ones.
    new_id = await db.fetchval("INSERT INTO topic (slug, name) VALUES ('after', 'After') RETURNING id")
    assert new_id > 0
    claim_id = await db.fetchval(
        "INSERT INTO claim (fingerprint, content, kind) VALUES ('x', 'Later.', 'paraphrase') RETURNING id"
    )
    assert claim_id == 2 * N + 1


@pytest.mark.parametrize("path", ["rest", "graphql"])
async def test_the_api_serves_the_generated_corpus(db: Database, client: httpx.AsyncClient, path: str) -> None:
    await generate_corpus(db, N, seed=5)
    busiest = await db.fetchval(
        "SELECT entity_id FROM claim_speaker GROUP BY entity_id ORDER BY count(*) DESC, entity_id LIMIT 1"
    )
    if path == "rest":
        response = await client.get("/v1/claims", params={"speaker": busiest, "limit": 20})
        assert response.status_code == 200, response.text
        claims = response.json()["data"]
        assert len(claims) == 20
        assert all(busiest in [s["id"] for s in c["speakers"]] for c in claims)
        one = (await client.get(f"/v1/claims/{claims[0]['id']}")).json()
        assert one["appearances"] and one["appearances"][0]["source"]["publisher"]["name"].startswith("The ")
    else:
        response = await client.post("/graphql", json={"query": FEED, "variables": {"first": 50}})
        assert response.status_code == 200, response.text
        edges = response.json()["data"]["claims"]["edges"]
        assert len(edges) == 50
        assert all(e["node"]["speakers"] and e["node"]["appearances"] for e in edges)
        assert all(a["source"]["publisher"]["name"] for e in edges for a in e["node"]["appearances"])
