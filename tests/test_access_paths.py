"""The indexes the APIs rely on: each main access path can walk its index in order, without a sort.

Each case builds the statement the API issues (``db.filters.page_sql``, the entity search) and asks
PostgreSQL for its plan with sequential scans, bitmap scans and sorts priced out: a path whose index
is missing or unusable then shows a ``Sort`` node or another index, and the test names which. That is
the property behind "page 10,000 costs what page 1 costs": a keyset page is an index range scan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bench.queries import FEED, compiled
from db.database import Database
from db.filters import ClaimFilter, Cursor, Params, page_sql
from db.normalize import name_norm
from tests.rest_helpers import MERZ, REUTERS, STARMER, TASS, document, quote, write

PRICED_OUT = "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def decoded(raw: Any) -> Any:
    """EXPLAIN's JSON (the pool may already decode json values)."""
    return json.loads(raw) if isinstance(raw, str | bytes) else raw


async def explain(db: Database, sql: str, params: list[Any], priced_out: str = PRICED_OUT) -> list[dict[str, Any]]:
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(priced_out)
        raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *params)
    return list(nodes(decoded(raw)[0]["Plan"]))


@pytest.fixture
async def data(db: Database) -> dict[str, int]:
    """A few claims by two speakers, reported by two outlets, with topics and mentions."""
    for n in range(6):
        said = f"2025-11-{10 + n:02d}"
        claims = [
            quote(f"Merz said thing {n}.", MERZ, said_at=said, topics=["security"], mentions=[STARMER]),
            quote(f"Starmer said thing {n}.", STARMER, said_at=said),
        ]
        await write(db, document(f"https://example.org/{n}", *claims, publisher=REUTERS if n % 2 else TASS))
    await db.execute("ANALYZE")
    row = await db.fetchrow(
        "SELECT (SELECT entity_id FROM entity_alias WHERE norm = 'friedrich merz') AS merz,"
        " (SELECT entity_id FROM entity_alias WHERE norm = 'keir starmer') AS starmer,"
        " (SELECT id FROM topic WHERE slug = 'security') AS topic"
    )
    assert row is not None
    return dict(row)


Build = Callable[[dict[str, int]], tuple[str, list[Any]]]


def claims_page(criteria: Callable[[dict[str, int]], ClaimFilter], **options: Any) -> Build:
    """The page statement for the filter ``criteria`` makes from the fixture's ids."""

    def build(ids: dict[str, int]) -> tuple[str, list[Any]]:
        p = Params()
        return page_sql(criteria(ids), p, **options), p.values

    return build


def every(ids: dict[str, int]) -> ClaimFilter:
    return ClaimFilter()


NOV_12 = datetime(2025, 11, 12, tzinfo=UTC)
NOV_14 = datetime(2025, 11, 14, tzinfo=UTC)
CURSOR = Cursor("-said_at", "2025-11-12 00:00:00+00", 3)

CASES = {
    "the feed, newest said first": (claims_page(every), "claim_said_idx"),
    "the feed, deep page by cursor": (claims_page(every, after=CURSOR), "claim_said_idx"),
    "the feed, oldest first": (claims_page(every, sort="said_at"), "claim_said_idx"),
    "newest reported first": (claims_page(every, sort="-reported_at"), "claim_reported_idx"),
    "a speaker's claims by date": (
        claims_page(lambda ids: ClaimFilter(speakers=(ids["merz"],))),
        "claim_speaker_entity_idx",
    ),
    "a speaker's deep page": (
        claims_page(lambda ids: ClaimFilter(speakers=(ids["merz"],)), after=CURSOR),
        "claim_speaker_entity_idx",
    ),
    "claims mentioning someone": (
        claims_page(lambda ids: ClaimFilter(mentions=(ids["starmer"],))),
        "mention_entity_idx",
    ),
    "a speaker's date range": (
        claims_page(lambda ids: ClaimFilter(speakers=(ids["merz"],), said_after=NOV_12, said_before=NOV_14)),
        "claim_speaker_entity_idx",
    ),
    "a date range": (
        claims_page(lambda ids: ClaimFilter(said_after=datetime(2025, 11, 11, tzinfo=UTC), said_before=NOV_14)),
        "claim_said_idx",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
async def test_claim_pages_walk_their_index_without_sorting(db: Database, data: dict[str, int], case: str) -> None:
    build, index = CASES[case]
    sql, params = build(data)
    plan = await explain(db, sql, params)
    used = {n["Index Name"] for n in plan if "Index Name" in n}
    assert index in used, f"{case}: expected {index}, the plan uses {sorted(used) or 'no index'}"
    assert not [n for n in plan if n["Node Type"] in ("Sort", "Incremental Sort")], f"{case}: the plan sorts"


async def test_full_text_search_is_served_by_the_gin_index(db: Database, data: dict[str, int]) -> None:
    p = Params()
    page_sql(ClaimFilter(q="Starmer thing"), p, sort="relevance")  # the search condition the API uses
    condition = "c.search @@ websearch_to_tsquery('english', $1)"
    # GIN is read through bitmap scans only, so only sequential scans are priced out here.
    plan = await explain(
        db, f"SELECT c.id FROM claim c WHERE {condition}", p.values[:1], "SET LOCAL enable_seqscan = off"
    )
    assert "claim_search_idx" in {n.get("Index Name") for n in plan}
    assert await db.fetchval(f"SELECT count(*) FROM claim c WHERE {condition}", *p.values[:1]) == 6


async def test_alias_look_up_ignores_case_and_accents_through_its_index(db: Database, data: dict[str, int]) -> None:
    plan = await explain(db, "SELECT entity_id FROM entity_alias WHERE norm = $1", [name_norm("FRIEDRICH  Mérz")])
    assert "entity_alias_norm_idx" in {n.get("Index Name") for n in plan}
    assert (
        await db.fetchval("SELECT entity_id FROM entity_alias WHERE norm = $1", name_norm("friedrich MÉRZ"))
        == data["merz"]
    )


@pytest.mark.parametrize("case", ["a speaker's date range", "a date range"])
async def test_a_date_range_bounds_the_index_walk(db: Database, data: dict[str, int], case: str) -> None:
    build, index = CASES[case]
    sql, params = build(data)
    walk = [n for n in await explain(db, sql, params) if n.get("Index Name") == index]
    assert walk and "said_key >=" in walk[0].get("Index Cond", ""), f"{case}: the range does not bound {index}"


async def feed_plan(db: Database) -> list[dict[str, Any]]:
    """The plan of the benchmark's 50-claim feed as `/graphql` compiles it (sequential scans priced out)."""
    statement = compiled(FEED, {"first": 50})
    return await explain(db, statement.sql, statement.params, "SET LOCAL enable_seqscan = off")


async def test_the_compiled_feed_probes_the_hash_indexes_row_by_row(db: Database, data: dict[str, int]) -> None:
    """Each claim's speakers, each speaker's and publisher's entity and each appearance's source are
    equality look-ups, one per row: the hash indexes of db/migrations/0002 serve them (one bucket
    page, not a b-tree descent)."""
    used = {(n.get("Relation Name"), n.get("Index Name")) for n in await feed_plan(db) if "Index Name" in n}
    for table, index in [
        ("claim_speaker", "claim_speaker_claim_hash"),
        ("entity", "entity_id_hash"),
        ("source", "source_id_hash"),
    ]:
        assert (table, index) in used, f"{table} is not read through {index}: {sorted(used)}"


async def test_the_compiled_feed_fetches_its_claims_by_tid(db: Database, data: dict[str, int]) -> None:
    """The page carries each claim's ctid, and the feed's JSON is built from rows fetched by it (a
    TID scan, one buffer) rather than by a second descent of ``claim_pkey`` (db.filters.page_sql,
    ``tid``)."""
    claim_reads = [
        (n["Node Type"], n.get("Index Name")) for n in await feed_plan(db) if n.get("Relation Name") == "claim"
    ]
    assert ("Tid Scan", None) in claim_reads, claim_reads
    assert ("Index Scan", "claim_pkey") not in claim_reads, claim_reads


def test_the_compiled_feed_reads_its_long_texts_already_escaped() -> None:
    """Content, names, quotes, titles and URLs come from the ``*_json`` columns that
    db/migrations/0003 keeps escaped, not through ``to_json`` on every read; only the two
    timestamps and the page's ``hasNextPage`` are still written by ``to_json``."""
    sql = compiled(FEED, {"first": 50}).sql
    for column in ("content", "name", "quote", "title", "url"):
        assert f".{column}_json" in sql, column
    assert not re.search(r"to_json\(\w+\.(content|name|quote|title|url)\)", sql)
    assert sorted(re.findall(r"to_json\(([^()]*)\)", sql)) == ["n2.said_at", "s6.published_at"]
