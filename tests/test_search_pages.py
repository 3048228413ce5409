"""Date-ordered text search (`db.filters.page_sql`): sorted from the full-text index's matches when
they are few, else found by walking the date index — the same page either way."""

from __future__ import annotations

from typing import Any

import pytest

from db.database import Database
from db.filters import ClaimFilter, Cursor, Params, page_sql
from tests.rest_helpers import MERZ, STARMER, document, quote, write

WORDS = ["sanctions", "border", "energy", "ceasefire"]


async def corpus(db: Database) -> None:
    """Forty claims over two speakers and four months, each word in a different share of them."""
    for i in range(40):
        words = " and ".join(w for k, w in enumerate(WORDS) if i % (k + 1) == 0)  # sanctions in all, ceasefire in 1/4
        said = f"2025-{1 + i % 4:02d}-{1 + i % 28:02d}"
        claim = quote(f"Claim {i} on {words}", MERZ if i % 2 else STARMER, said_at=said)
        await write(db, document(f"https://news.example/{i}", claim))


async def page(db: Database, f: ClaimFilter, few_hits: int, **kw: Any) -> list[tuple[int, str]]:
    p = Params()
    scope = kw.pop("scope", None)
    if scope is not None:
        scope = (scope[0], p.add(scope[1], "::bigint"))
    sql = page_sql(f, p, few_hits=few_hits, scope=scope, **kw)
    return [(r["id"], r["sort_key"]) for r in await db.fetch(sql, *p.values)]


@pytest.mark.parametrize("word", [*WORDS, "sanctions ceasefire", "nothing-matches-this", "-energy"])
@pytest.mark.parametrize("sort", ["-said_at", "said_at", "-reported_at"])
async def test_a_search_finds_the_same_page_whether_its_matches_are_few_or_many(
    db: Database, word: str, sort: Any
) -> None:
    await corpus(db)
    f = ClaimFilter(q=word)

    sorted_from_matches = await page(db, f, few_hits=1000, sort=sort, limit=7)
    walked = await page(db, f, few_hits=0, sort=sort, limit=7)

    assert sorted_from_matches == walked
    if word in ("sanctions", "energy"):
        assert len(walked) == 7


async def test_the_same_holds_after_a_cursor_backwards_within_a_speaker_and_between_dates(db: Database) -> None:
    await corpus(db)
    speaker = int(await db.fetchval("SELECT id FROM entity WHERE name = 'Keir Starmer'"))
    f = ClaimFilter(q="sanctions", speakers=(speaker,))
    first = await page(db, f, few_hits=1000, limit=5)
    after = Cursor("-said_at", first[-1][1], first[-1][0])

    for kw in ({"after": after}, {"after": after, "backward": True}, {"scope": ("speaker", speaker)}):
        few, many = await page(db, f, few_hits=1000, limit=5, **kw), await page(db, f, few_hits=0, limit=5, **kw)
        assert few == many and few
