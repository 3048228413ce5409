"""Concurrent writers: many clients writing overlapping source documents through two API workers end
with exactly one entity per person and one claim per quote — no 5xx, no deadlock surfaced.

The documents overlap on purpose: the same people under different spellings of their names (every
spelling shares the surname, so the identity rules must join them whatever the order), the same
quotes in different articles with other capitals, spacing and quote marks, the same topics and
places, and the very same document posted by several clients at once.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import httpx

from db.database import Database
from db.keys import create_key
from db.normalize import name_norm
from tests.reliability.serving import claims_server

CLIENTS = 24
POSTS_PER_CLIENT = 12
DOCUMENTS = 120
QUOTES = 60
REQUEST_TIMEOUT_S = 60.0

# (given name, surname): the surname is in every spelling of the person.
PEOPLE = [
    ("José", "Müller"),
    ("Anna", "Berg"),
    ("Łukasz", "Nowak"),
    ("Chloé", "Dubois"),
    ("Sven", "Øberg"),
    ("María", "García"),
    ("Olaf", "Schröder"),
    ("Ngozi", "Okafor"),
    ("Ayşe", "Kaya"),
    ("Pierre", "Lefèvre"),
    ("Ines", "Santos"),
    ("Kenji", "Tanaka"),
]
OUTLETS = ["Daily Planet", "The Ledger", "Morning Post", "Evening Star"]
PLACES = ["Kyiv", "Brussels", "Geneva"]
STATEMENTS = 3
TOPICS = ["security", "energy-policy", "trade", "elections", "climate", "migration"]


def spelling(person: tuple[str, str], rng: random.Random) -> dict[str, Any]:
    """One of the ways an article may name ``person``; all of them share the surname."""
    given, surname = person
    full = f"{given} {surname}"
    forms: list[dict[str, Any]] = [
        {"name": full, "aliases": [surname]},
        {"name": surname},
        {"name": full.upper(), "aliases": [surname.lower()]},
        {"name": f"{given[0]}. {surname}", "aliases": [full, surname]},
        {"name": surname.upper()},
        {"name": full, "aliases": [surname], "external_ids": {"wikidata": wikidata(person)}},
        {"external_ids": {"wikidata": wikidata(person)}, "name": surname},
    ]
    return {"kind": "person", **rng.choice(forms)}


def wikidata(person: tuple[str, str]) -> str:
    return f"Q{1000 + PEOPLE.index(person)}"


def statement(k: int) -> dict[str, Any]:
    """A statement the articles attribute quotes to: a source written by many documents at once."""
    return {
        "kind": "statement",
        "title": f"Joint statement {k}",
        "url": f"https://gov.example/statements/{k}",
        "publisher": {"name": "Government Press Office", "kind": "organization"},
        "published_at": "2025-11-25T18:00:00Z",
    }


def quote_text(j: int) -> str:
    return f"qt{j:03d}x we shall keep our promise on item {j} whatever it costs"


def printed(text: str, rng: random.Random) -> str:
    """The same words as another outlet prints them."""
    return rng.choice([text, text.upper(), f"“{text}”", text.replace(" ", "  "), f'"{text}."', text.capitalize()])


def build_documents(seed: int = 7) -> tuple[list[dict[str, Any]], dict[int, list[int]]]:
    """The documents, and each quote's speakers (indices into PEOPLE)."""
    rng = random.Random(seed)
    speakers = {j: rng.sample(range(len(PEOPLE)), rng.choice([1, 1, 2])) for j in range(QUOTES)}
    docs = []
    for i in range(DOCUMENTS):
        # Every quote and person appears in several documents; the first pass makes sure each is used.
        chosen = [i % QUOTES, *rng.sample(range(QUOTES), 2)]
        chosen = list(dict.fromkeys(chosen))
        claims = []
        for j in chosen:
            content = printed(quote_text(j), rng)
            who = [spelling(PEOPLE[p], rng) for p in speakers[j]]
            rng.shuffle(who)
            claims.append(
                {
                    "content": content,
                    "said_at": "2025-11-25",
                    "speakers": [{"entity": w} for w in who],
                    "mentions": [
                        spelling(PEOPLE[rng.randrange(len(PEOPLE))], rng),
                        {"name": rng.choice(PLACES).upper()},
                    ],
                    "topics": rng.sample(TOPICS, 2),
                    "appearance": {"quote": content, "cited_source": statement(rng.randrange(STATEMENTS))},
                }
            )
        outlet = OUTLETS[i % len(OUTLETS)]
        docs.append(
            {
                "source": {
                    "kind": "news_article",
                    "title": f"Article {i}",
                    "url": f"https://news.example/{i}",
                    "publisher": {"name": outlet, "kind": "organization"},
                    "published_at": "2025-11-26T09:00:00Z",
                },
                "claims": claims,
            }
        )
    return docs, speakers


async def post_all(base: str, key: str, docs: list[dict[str, Any]]) -> Counter[int]:
    """CLIENTS clients each posting POSTS_PER_CLIENT documents; neighbours post the same ones at once."""
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:

        async def client(c: int) -> None:
            for k in range(POSTS_PER_CLIENT):
                doc = docs[(c // 3 * 11 + k) % len(docs)]  # clients 0-2 post the same sequence, 3-5 the next…
                response = await http.post("/v1/sources", json=doc, headers={"X-API-Key": key})
                statuses[response.status_code] += 1
                if response.status_code not in (200, 201):
                    errors.append(f"{response.status_code} {response.text[:300]}")

        await asyncio.gather(*(client(c) for c in range(CLIENTS)))
        # A second, sequential pass writes every document once more: all known, nothing changes.
        for doc in docs:
            response = await http.post("/v1/sources", json=doc, headers={"X-API-Key": key})
            statuses[response.status_code] += 1
            if response.status_code not in (200, 201):
                errors.append(f"{response.status_code} {response.text[:300]}")
    assert not errors, errors[:5]
    return statuses


async def test_concurrent_overlapping_writers_leave_one_entity_per_person_and_one_claim_per_quote(
    db: Database, server_dsn: str
) -> None:
    docs, speakers = build_documents()
    key = (await create_key(db, ["write"], name="concurrent writers")).secret
    with claims_server(server_dsn, workers=2, pool_max_size="10") as server:
        assert len(server.workers()) == 2
        statuses = await asyncio.wait_for(post_all(server.base, key, docs), timeout=300)
        log = server.output()
    print("statuses:", dict(statuses))
    assert set(statuses) <= {200, 201}, statuses
    assert "Traceback" not in log, log  # nothing escaped the store's retries

    people = await db.fetchval("SELECT count(*) FROM entity WHERE kind = 'person'")
    assert people == len(PEOPLE)
    for given, surname in PEOPLE:
        for norm in (name_norm(surname), name_norm(f"{given} {surname}")):
            owners = await db.fetchval("SELECT count(DISTINCT entity_id) FROM entity_alias WHERE norm = $1", norm)
            assert owners == 1, f"{norm!r} names {owners} entities"
    assert await db.fetchval("SELECT count(*) FROM entity WHERE kind = 'organization'") == len(OUTLETS) + 1
    assert await db.fetchval("SELECT count(*) FROM entity WHERE kind NOT IN ('person', 'organization')") == len(PLACES)

    assert await db.fetchval("SELECT count(*) FROM claim") == QUOTES
    per_quote = await db.fetch(
        "SELECT substring(lower(content) FROM 'qt[0-9]{3}x') AS token, count(*) AS n FROM claim GROUP BY 1"
    )
    assert {r["token"]: r["n"] for r in per_quote} == {f"qt{j:03d}x": 1 for j in range(QUOTES)}
    # Each claim has exactly its speakers, and every article printing it has one appearance of it.
    speaker_counts = await db.fetch(
        "SELECT substring(lower(c.content) FROM 'qt[0-9]{3}x') AS token, count(*) AS n "
        "FROM claim c JOIN claim_speaker s ON s.claim_id = c.id GROUP BY 1"
    )
    assert {r["token"]: r["n"] for r in speaker_counts} == {f"qt{j:03d}x": len(speakers[j]) for j in range(QUOTES)}
    assert await db.fetchval("SELECT count(*) FROM source") == DOCUMENTS + STATEMENTS
    for given, surname in PEOPLE:  # the external id went to the one entity, whichever spelling came first
        owner = await db.fetchval(
            "SELECT x.entity_id = a.entity_id FROM entity_external_id x, entity_alias a "
            "WHERE x.value = $1 AND a.norm = $2",
            wikidata((given, surname)),
            name_norm(surname),
        )
        assert owner is True, f"{surname}'s wikidata id is on another entity"
    assert await db.fetchval("SELECT count(*) FROM appearance") == sum(len(d["claims"]) for d in docs)
    assert await db.fetchval("SELECT count(*) FROM topic") == len(TOPICS)
