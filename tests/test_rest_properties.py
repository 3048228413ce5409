"""Properties of the REST API that examples cannot pin down, checked with hypothesis."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.database import Database
from tests.helpers import DATA_TABLES
from tests.rest_helpers import document, quote, write

PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

NAMES = ["Friedrich Merz", "Keir Starmer", "Emmanuel Macron", "Marco Rubio", "Merz"]
days = st.one_of(st.none(), st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 1, 20)).map(str))
speakers = st.lists(st.sampled_from(NAMES[:4]), min_size=1, max_size=2, unique=True)
words = st.text(alphabet="abc xyz", min_size=1, max_size=12).filter(lambda s: any(c.isalpha() for c in s))


@st.composite
def claims(draw: st.DrawFn) -> dict[str, Any]:
    people = draw(speakers)
    content = draw(words)
    extra: dict[str, Any] = {}
    if draw(st.booleans()):
        extra["mentions"] = [{"name": draw(st.sampled_from(NAMES))}]
    if draw(st.booleans()):
        extra["topics"] = draw(st.lists(st.sampled_from(["nato", "ukraine", "security"]), max_size=2, unique=True))
    return quote(content, *[{"name": p, "kind": "person"} for p in people], said_at=draw(days), **extra)


documents = st.builds(
    lambda n, claims, publisher: document(
        f"https://e.com/{n}", *claims, publisher={"name": publisher, "kind": "organization"}
    ),
    st.integers(1, 3),
    st.lists(claims(), min_size=0, max_size=4),
    st.sampled_from(["TASS", "Reuters"]),
)


def key(claim: dict[str, Any]) -> tuple[str, int]:
    return (claim["said_at"] or "", claim["id"])


@PROPERTY
@given(
    initial=st.lists(claims(), min_size=1, max_size=12),
    limit=st.integers(1, 5),
    written_meanwhile=st.lists(claims(), max_size=6),
)
async def test_cursor_pages_visit_every_claim_once_in_order_while_claims_are_written(
    client: httpx.AsyncClient,
    db: Database,
    initial: list[dict[str, Any]],
    limit: int,
    written_meanwhile: list[dict[str, Any]],
) -> None:
    await db.execute(DATA_TABLES)
    await write(db, document("https://e.com/start", *initial))
    before = {c["id"] for c in (await client.get("/v1/claims", params={"limit": 100})).json()["data"]}
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for page_number in range(100):
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/claims", params=params)).json()
        seen += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        if page_number < len(written_meanwhile):
            await write(db, document(f"https://e.com/meanwhile/{page_number}", written_meanwhile[page_number]))
    ids = [c["id"] for c in seen]
    assert len(ids) == len(set(ids)), "no claim twice"
    assert before <= set(ids), "every claim that existed at the start"
    keys = [key(c) for c in seen]
    assert keys == sorted(keys, reverse=True), "newest said first, unknown dates last"


async def snapshot(client: httpx.AsyncClient) -> bytes:
    return (await client.get("/v1/export")).content


@PROPERTY
@given(doc=documents)
async def test_a_valid_document_written_twice_equals_written_once(
    client: httpx.AsyncClient, db: Database, doc: dict[str, Any]
) -> None:
    await db.execute(DATA_TABLES)
    first = await client.post("/v1/sources", json=doc)
    assert first.status_code == 201
    once = await snapshot(client)
    second = await client.post("/v1/sources", json=doc)
    assert second.status_code == 200
    assert second.json()["created"] is False
    assert second.json()["source_id"] == first.json()["source_id"]
    assert [c["id"] for c in second.json()["claims"]] == [c["id"] for c in first.json()["claims"]]
    assert await snapshot(client) == once
