"""REST `/v1/entities`: name search, one entity, its claims and mentions, merging duplicates."""

from __future__ import annotations

import httpx

from db.database import Database
from schema.entities import EntityPage, EntityPublic
from tests.rest_helpers import MERZ, STARMER, demo, document, quote, write

PROBLEM = "application/problem+json"


async def entity_id(client: httpx.AsyncClient, q: str) -> int:
    return int((await client.get("/v1/entities", params={"q": q})).json()["data"][0]["id"])


async def test_searching_by_an_accented_prefix_of_any_alias_finds_the_entity(
    client: httpx.AsyncClient, db: Database
) -> None:
    await demo(db)
    for q in ("merz", "Fried", "german chancellor fr", "MERZ"):
        r = await client.get("/v1/entities", params={"q": q})
        page = EntityPage.model_validate_json(r.content)
        assert page.data[0].name == "Friedrich Merz", q
    r = await client.get("/v1/entities", params={"q": "Zélensk"})
    assert r.json()["data"], "accents are folded"


async def test_search_narrows_by_kind_and_pages_by_cursor(client: httpx.AsyncClient, db: Database) -> None:
    await demo(db)
    people = (await client.get("/v1/entities", params={"kind": "person", "limit": 100})).json()["data"]
    assert people and all(e["kind"] == "person" for e in people)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/entities", params=params)).json()
        seen += [e["id"] for e in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    everyone = (await client.get("/v1/entities", params={"limit": 100})).json()["data"]
    assert seen == [e["id"] for e in everyone] == sorted(seen)


async def test_an_entity_reads_with_aliases_external_ids_and_claim_counts(
    client: httpx.AsyncClient, db: Database
) -> None:
    await write(db, document("https://e.com/1", quote("One."), quote("Two.", STARMER, mentions=[MERZ])))
    merz = await entity_id(client, "merz")
    r = await client.get(f"/v1/entities/{merz}")
    assert r.status_code == 200 and r.headers["etag"]
    entity = EntityPublic.model_validate_json(r.content)
    assert entity.aliases == ["Friedrich Merz", "Merz"]
    assert entity.external_ids == {"wikidata": "Q2514"}
    assert (entity.claim_counts.as_speaker, entity.claim_counts.as_mentioned) == (1, 1)
    again = await client.get(f"/v1/entities/{merz}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


async def test_an_entitys_claims_and_mentions_take_the_claim_filters(client: httpx.AsyncClient, db: Database) -> None:
    await write(
        db,
        document(
            "https://e.com/1",
            quote("Old.", said_at="2024-01-01"),
            quote("New.", said_at="2025-06-01"),
            quote("About Merz.", STARMER, mentions=[MERZ]),
        ),
    )
    merz = await entity_id(client, "merz")
    r = await client.get(f"/v1/entities/{merz}/claims", params={"said_after": "2025-01-01"})
    assert [c["content"] for c in r.json()["data"]] == ["New."]
    r = await client.get(f"/v1/entities/{merz}/mentions")
    assert [c["content"] for c in r.json()["data"]] == ["About Merz."]
    assert (await client.get("/v1/entities/999/claims")).status_code == 404


async def test_merging_moves_aliases_and_claims_and_redirects_the_duplicate(
    client: httpx.AsyncClient, db: Database
) -> None:
    await write(db, document("https://e.com/1", quote("From the duplicate.", {"name": "F. Merz", "kind": "person"})))
    await write(db, document("https://e.com/2", quote("From the original.")))
    duplicate, original = await entity_id(client, "f merz"), await entity_id(client, "friedrich")
    assert duplicate != original
    r = await client.post(f"/v1/entities/{duplicate}/merge", json={"into": original})
    assert r.status_code == 200
    merged = EntityPublic.model_validate_json(r.content)
    assert "F. Merz" in merged.aliases and merged.claim_counts.as_speaker == 2
    moved = await client.get(f"/v1/entities/{duplicate}", follow_redirects=False)
    assert moved.status_code == 308
    assert moved.headers["location"] == f"/v1/entities/{original}"
    claims = await client.get(f"/v1/entities/{duplicate}/claims?limit=5", follow_redirects=False)
    assert claims.status_code == 308 and claims.headers["location"] == f"/v1/entities/{original}/claims?limit=5"
    again = await client.post(f"/v1/entities/{duplicate}/merge", json={"into": original})
    assert again.status_code == 200, "merging again is a no-op"
    # the duplicate's name now finds the survivor, so re-importing its quote adds nothing
    result = await write(db, document("https://e.com/1", quote("From the duplicate.", {"name": "F. Merz"})))
    assert not result.changed


async def test_a_merge_that_makes_two_claims_identical_folds_them(client: httpx.AsyncClient, db: Database) -> None:
    await write(db, document("https://e.com/1", quote("Same words.", {"name": "F. Merz", "kind": "person"})))
    await write(db, document("https://e.com/2", quote("Same words.")))
    duplicate, original = await entity_id(client, "f merz"), await entity_id(client, "friedrich")
    assert (await client.post(f"/v1/entities/{duplicate}/merge", json={"into": original})).status_code == 200
    claims = (await client.get("/v1/claims")).json()["data"]
    assert len(claims) == 1
    assert len(claims[0]["appearances"]) == 2


async def test_merge_refusals_are_problems(client: httpx.AsyncClient, db: Database) -> None:
    await write(db, document("https://e.com/1", quote("x."), quote("y.", STARMER)))
    merz, starmer = await entity_id(client, "merz"), await entity_id(client, "starmer")
    r = await client.post(f"/v1/entities/{merz}/merge", json={"into": merz})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.into"
    r = await client.post(f"/v1/entities/{merz}/merge", json={"into": 999})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert (await client.post("/v1/entities/999/merge", json={"into": merz})).status_code == 404
    third = (await write(db, document("https://e.com/3", quote("z.", {"name": "Someone Else"})))).claims[0].id
    someone = (await client.get(f"/v1/claims/{third}")).json()["speakers"][0]["id"]
    assert (await client.post(f"/v1/entities/{merz}/merge", json={"into": starmer})).status_code == 200
    r = await client.post(f"/v1/entities/{merz}/merge", json={"into": someone})
    assert r.status_code == 409
