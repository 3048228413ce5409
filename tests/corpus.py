"""A generated corpus of source documents with every shape the GraphQL schema can show."""

from __future__ import annotations

import random
from typing import Any

from db.database import Database
from tests.rest_helpers import write

PEOPLE = [
    {"name": "Friedrich Merz", "kind": "person", "aliases": ["Merz"], "external_ids": {"wikidata": "Q2514"},
     "roles": [{"title": "Chancellor of Germany", "start": "2025-05-06"}, {"title": "CDU leader"}]},
    {"name": "Keir Starmer", "kind": "person", "aliases": ["Starmer"]},
    {"name": "Emmanuel Macron", "kind": "person", "aliases": ["Macron"], "description": "President of France"},
    {"name": "Marco Rubio", "kind": "person", "aliases": ["Rubio", "Secretary Rubio"]},
    {"name": "Volodymyr Zelenskyy", "kind": "person", "aliases": ["Zelensky", "Zelenskyy"]},
    {"name": "Coalition of the Willing", "kind": "group"},
]  # fmt: skip
PLACES = [{"name": "Ukraine", "kind": "place"}, {"name": "NATO", "kind": "organization"}, {"name": "Geneva",
          "kind": "place"}]  # fmt: skip
PUBLISHERS = [
    {"name": "TASS", "kind": "organization", "aliases": ["TASS Russian News Agency"]},
    {"name": "Reuters", "kind": "organization"},
    {"name": "Associated Press", "kind": "organization", "aliases": ["AP"]},
]
TOPICS = [("ukraine-crisis", "Ukraine crisis"), ("security", "Security"), ("nato", "NATO"), ("peace-talks", "Peace")]
WORDS = ["security", "guarantees", "peace", "talks", "planning", "coalition", "support", "sovereignty",
         "borders", "assets", "financing"]  # fmt: skip
SAID = ["2025-11-20", "2025-11-21", "2025-11-21", "2025-11-23T14:30:00+00:00", "2025-11", None, "2025-11-25"]
REPORTED = ["2025-11-21T08:00:00+00:00", "2025-11-22", "2025-11-24T18:45:10.25+00:00", "2025-11-26", None]


def corpus(seed: int = 7, sources: int = 12) -> list[dict[str, Any]]:
    """Source documents with every shape the schema can show: shared quotes across outlets (several
    appearances), spans, cited sources, relations, undated claims, ties on said_at, no publisher."""
    rng = random.Random(seed)
    pool: list[dict[str, Any]] = []  # claims printed before, reprinted by later sources
    docs = []
    for n in range(sources):
        claims: list[dict[str, Any]] = []
        for i in range(rng.randint(2, 5)):
            if pool and rng.random() < 0.25:
                again = rng.choice(pool)
                if all(c["content"] != again["content"] for c in claims):
                    claims.append({k: v for k, v in again.items() if k != "relations"})
                continue
            content = " ".join(rng.sample(WORDS, rng.randint(3, 6))) + f" ({n}.{i})"
            said = rng.choice(SAID)
            claim: dict[str, Any] = {
                "content": content,
                "kind": rng.choice(["direct_quote", "paraphrase", "partial_quote"]),
                "language": rng.choice(["en", "en", "de", None]),
                "said_at": said[:7] + "-01" if said and len(said) == 7 else said,
                "speakers": [
                    {"entity": p, "role": rng.choice(["speaker", "co_signatory", "on_behalf_of"])}
                    for p in rng.sample(PEOPLE, rng.randint(1, 3))
                ],
                "mentions": rng.sample(PLACES + PEOPLE[:2], rng.randint(0, 3)),
                "topics": [t for t, _ in rng.sample(TOPICS, rng.randint(0, 2))],
                "appearance": {"quote": content},
            }
            if said and len(said) == 7:
                claim["said_at_precision"] = "month"
            if rng.random() < 0.3:
                claim["appearance"]["cited_source"] = {"kind": "statement", "title": f"Joint statement {n % 3}"}
            if rng.random() < 0.3:
                claim["location"] = rng.choice(PLACES)
            if claims and rng.random() < 0.4:
                claim["relations"] = [{"kind": rng.choice(["repeats", "supports", "contradicts"]), "claim_index": 0}]
            pool.append(claim)
            claims.append(claim)
        text = " ".join(c["appearance"]["quote"] for c in claims)
        start = 0
        for c in claims:
            end = start + len(c["appearance"]["quote"])
            if rng.random() < 0.5:
                c["appearance"] = {**c["appearance"], "span": [start, end]}
            else:
                c["appearance"] = {k: v for k, v in c["appearance"].items() if k != "span"}
            start = end + 1
        source: dict[str, Any] = {
            "kind": rng.choice(["news_article", "news_article", "transcript"]),
            "title": f"Report number {n}",
            "url": f"https://news.example/{n}",
            "published_at": rng.choice(REPORTED),
            "language": "en",
            "text": text,
            "authors": rng.sample(PEOPLE[:3], rng.randint(0, 2)),
        }
        latest = max(str(c["said_at"] or "")[:10] for c in claims)
        if source["published_at"] and latest > source["published_at"][:10]:
            source["published_at"] = latest  # nothing is reported before it is said
        if n % 5 != 4:
            source["publisher"] = rng.choice(PUBLISHERS)
        docs.append({"source": source, "claims": claims, "topics": [{"slug": s, "name": m} for s, m in TOPICS]})
    return docs


async def load_corpus(db: Database, seed: int = 7, sources: int = 12) -> None:
    """Write the generated corpus through the store (the import path every API uses)."""
    for doc in corpus(seed, sources):
        await write(db, doc)
