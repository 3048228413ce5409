"""REST `/v1/claims`: lists with filters and keyset pages, one claim, JSON-LD, caching, writes."""

from __future__ import annotations

import base64

import httpx

from db.database import Database
from schema.claims import ClaimPage, ClaimPublic
from tests.rest_helpers import MERZ, REUTERS, STARMER, demo, document, quote, write

PROBLEM = "application/problem+json"


async def test_listing_claims_returns_a_documented_page_newest_said_first(
    client: httpx.AsyncClient, db: Database
) -> None:
    await write(
        db, document("https://e.com/1", quote("First.", said_at="2025-01-01"), quote("Second.", said_at="2025-02-01"))
    )
    response = await client.get("/v1/claims")
    assert response.status_code == 200
    page = ClaimPage.model_validate_json(response.content)
    assert [c.content for c in page.data] == ["Second.", "First."]
    assert page.next_cursor is None
    assert "Link" not in response.headers
    assert response.headers["cache-control"] == "public, max-age=30"


async def test_following_next_cursor_and_link_visits_every_claim_once(client: httpx.AsyncClient, db: Database) -> None:
    await write(
        db, document("https://e.com/1", *[quote(f"Claim {i}.", said_at=f"2025-01-{i + 1:02d}") for i in range(7)])
    )
    seen: list[str] = []
    url: str | None = "/v1/claims?limit=3"
    while url:
        response = await client.get(url)
        body = response.json()
        seen += [c["content"] for c in body["data"]]
        link = response.headers.get("link")
        assert (link is None) == (body["next_cursor"] is None)
        url = link.split(">")[0].lstrip("<") if link else None
    assert seen == [f"Claim {i}." for i in reversed(range(7))]


async def test_filters_combine_speaker_dates_kind_and_text(client: httpx.AsyncClient, db: Database) -> None:
    await write(
        db,
        document(
            "https://e.com/1",
            quote("Guarantees must be robust.", MERZ, said_at="2025-11-20"),
            quote("We agreed on guarantees.", STARMER, said_at="2025-11-25", kind="paraphrase"),
            quote("Nothing about that.", STARMER, said_at="2025-10-01"),
        ),
    )
    starmer = (await client.get("/v1/entities?q=starmer")).json()["data"][0]["id"]
    r = await client.get("/v1/claims", params={"speaker": starmer, "said_after": "2025-11-01"})
    assert [c["content"] for c in r.json()["data"]] == ["We agreed on guarantees."]
    r = await client.get("/v1/claims", params={"q": "guarantees", "sort": "relevance"})
    assert {c["content"] for c in r.json()["data"]} == {"Guarantees must be robust.", "We agreed on guarantees."}
    r = await client.get("/v1/claims", params={"kind": "paraphrase"})
    assert [c["kind"] for c in r.json()["data"]] == ["paraphrase"]
    r = await client.get("/v1/claims", params={"said_before": "2025-11-20T00:00:00"})
    assert [c["content"] for c in r.json()["data"]] == ["Nothing about that."]


async def test_reported_by_filters_on_the_publisher(client: httpx.AsyncClient, db: Database) -> None:
    await write(db, document("https://e.com/1", quote("Only TASS.")))
    await write(db, document("https://r.com/1", quote("Only Reuters."), publisher=REUTERS))
    reuters = (await client.get("/v1/entities?q=reuters")).json()["data"][0]["id"]
    r = await client.get("/v1/claims", params={"reported_by": reuters})
    assert [c["content"] for c in r.json()["data"]] == ["Only Reuters."]


async def test_relevance_without_a_query_is_a_problem_naming_sort(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/claims?sort=relevance")
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["errors"][0]["field"] == "query.sort"


async def test_forged_cursors_are_problems_naming_cursor(client: httpx.AsyncClient) -> None:
    forged = base64.urlsafe_b64encode(b"-said_at|not a date|1").decode().rstrip("=")
    for cursor in ["garbage!!", forged, "x" * 300]:
        r = await client.get("/v1/claims", params={"cursor": cursor})
        assert r.status_code in (400, 422), cursor
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["errors"][0]["field"] == "query.cursor"


async def test_limit_outside_one_to_a_hundred_is_rejected(client: httpx.AsyncClient) -> None:
    for limit in (0, 101, -1):
        r = await client.get(f"/v1/claims?limit={limit}")
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "query.limit"


async def test_a_claim_reads_whole_with_speakers_appearances_and_cited_source(
    client: httpx.AsyncClient, db: Database
) -> None:
    await demo(db)
    listing = (await client.get("/v1/claims?limit=100")).json()["data"]
    chosen = next(c for c in listing if c["appearances"] and c["appearances"][0]["cited_source"])
    r = await client.get(f"/v1/claims/{chosen['id']}")
    assert r.status_code == 200
    claim = ClaimPublic.model_validate_json(r.content)
    assert claim.speakers and claim.appearances[0].source.publisher is not None
    assert claim.appearances[0].source.publisher.name == "TASS"
    assert r.json()["said_at"].endswith("+00:00")
    assert r.headers["etag"].startswith('"1-')
    assert r.headers["cache-control"] == "public, max-age=60"


async def test_if_none_match_with_the_etag_answers_304(client: httpx.AsyncClient, db: Database) -> None:
    result = await write(db, document("https://e.com/1", quote("Cached.")))
    first = await client.get(f"/v1/claims/{result.claims[0].id}")
    again = await client.get(f"/v1/claims/{result.claims[0].id}", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    weak = await client.get(
        f"/v1/claims/{result.claims[0].id}", headers={"If-None-Match": "W/" + first.headers["etag"]}
    )
    assert weak.status_code == 304


async def test_a_new_appearance_changes_the_etag(client: httpx.AsyncClient, db: Database) -> None:
    result = await write(db, document("https://e.com/1", quote("Reported twice.")))
    before = (await client.get(f"/v1/claims/{result.claims[0].id}")).headers["etag"]
    await write(db, document("https://r.com/1", quote("Reported twice."), publisher=REUTERS))
    after = await client.get(f"/v1/claims/{result.claims[0].id}", headers={"If-None-Match": before})
    assert after.status_code == 200
    assert len(after.json()["appearances"]) == 2


async def test_json_ld_is_a_schema_org_claim_with_news_article_appearances(
    client: httpx.AsyncClient, db: Database
) -> None:
    result = await write(db, document("https://e.com/1", quote("Linked.")))
    r = await client.get(f"/v1/claims/{result.claims[0].id}", headers={"Accept": "application/ld+json"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/ld+json"
    ld = r.json()
    assert ld["@context"] == "https://schema.org" and ld["@type"] == "Claim"
    assert ld["author"][0] == {"@type": "Person", "name": "Friedrich Merz", "identifier": ld["author"][0]["identifier"]}
    assert ld["appearance"][0]["@type"] == "NewsArticle"
    assert ld["appearance"][0]["publisher"]["name"] == "TASS"
    assert ld["datePublished"] == "2025-11-26T09:00:00+00:00"


async def test_unknown_and_out_of_range_ids_are_problems_not_server_errors(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/claims/12345")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    for bad in ("9223372036854775808", "0", "-1", "99999999999999999999999", "abc"):
        r = await client.get(f"/v1/claims/{bad}")
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == PROBLEM


async def test_posting_a_claim_to_a_known_source_creates_it_then_finds_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    result = await write(db, document("https://e.com/1", quote("Existing.")))
    body = {"source": {"id": result.source_id}, "claim": {"content": "New words.", "speakers": [{"entity": STARMER}]}}
    created = await client.post("/v1/claims", json=body)
    assert created.status_code == 201
    assert created.headers["location"] == f"/v1/claims/{created.json()['id']}"
    assert created.json()["appearances"][0]["quote"] == "New words."
    again = await client.post("/v1/claims", json=body)
    assert again.status_code == 200
    assert again.json() == created.json()


async def test_posting_a_claim_with_a_described_source(client: httpx.AsyncClient) -> None:
    body = {
        "source": {"kind": "statement", "title": "Joint statement", "publisher": {"name": "Downing Street"}},
        "claim": {"content": "Said in a statement.", "speakers": [{"entity": STARMER}], "said_at": "2025-11-25"},
    }
    r = await client.post("/v1/claims", json=body)
    assert r.status_code == 201
    assert r.json()["appearances"][0]["source"]["title"] == "Joint statement"


async def test_posting_a_claim_to_an_unknown_source_names_the_field(client: httpx.AsyncClient) -> None:
    body = {"source": {"id": 999}, "claim": {"content": "x", "speakers": [{"entity": STARMER}]}}
    r = await client.post("/v1/claims", json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.source.id"


async def test_patch_needs_if_match_and_refuses_a_stale_etag(client: httpx.AsyncClient, db: Database) -> None:
    result = await write(db, document("https://e.com/1", quote("Patch me.")))
    url = f"/v1/claims/{result.claims[0].id}"
    etag = (await client.get(url)).headers["etag"]
    patch = {"kind": "paraphrase", "topics": ["ukraine-crisis"]}
    headers = {"Content-Type": "application/merge-patch+json"}
    assert (await client.patch(url, json=patch, headers=headers)).status_code == 428
    changed = await client.patch(url, json=patch, headers={**headers, "If-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["kind"] == "paraphrase"
    assert changed.json()["version"] == 2
    assert [t["slug"] for t in changed.json()["topics"]] == ["ukraine-crisis"]
    assert changed.headers["etag"] != etag
    stale = await client.patch(url, json={"kind": "direct_quote"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    assert (await client.get(url)).json()["kind"] == "paraphrase"


async def test_patch_is_a_merge_patch_where_null_clears(client: httpx.AsyncClient, db: Database) -> None:
    result = await write(db, document("https://e.com/1", quote("Dated.", language="en")))
    url = f"/v1/claims/{result.claims[0].id}"
    etag = (await client.get(url)).headers["etag"]
    r = await client.patch(url, json={"said_at": None, "language": None}, headers={"If-Match": etag})
    assert r.status_code == 200
    assert r.json()["said_at"] is None and r.json()["said_at_precision"] == "unknown"
    assert r.json()["language"] is None and r.json()["content"] == "Dated."
    r2 = await client.patch(url, json={"said_at": "2025-03-04T05:06:07+02:00"}, headers={"If-Match": r.headers["etag"]})
    assert r2.json()["said_at"] == "2025-03-04T03:06:07+00:00"
    assert r2.json()["said_at_precision"] == "instant"


async def test_patching_content_onto_another_claims_identity_is_a_conflict(
    client: httpx.AsyncClient, db: Database
) -> None:
    result = await write(db, document("https://e.com/1", quote("One."), quote("Two.")))
    url = f"/v1/claims/{result.claims[1].id}"
    etag = (await client.get(url)).headers["etag"]
    r = await client.patch(url, json={"content": "one"}, headers={"If-Match": etag})
    assert r.status_code == 409


async def test_a_deleted_claim_is_gone_recorded_and_deleting_again_succeeds(
    client: httpx.AsyncClient, db: Database
) -> None:
    result = await write(db, document("https://e.com/1", quote("Delete me."), quote("Keep me.")))
    url = f"/v1/claims/{result.claims[0].id}"
    r = await client.delete(url, params={"reason": "duplicate"})
    assert r.status_code == 204
    gone = await client.get(url)
    assert gone.status_code == 410 and gone.headers["content-type"] == PROBLEM
    assert (await client.delete(url)).status_code == 204
    assert [c["content"] for c in (await client.get("/v1/claims")).json()["data"]] == ["Keep me."]
    assert (
        await db.fetchval("SELECT reason FROM claim_deletion WHERE claim_id = $1", result.claims[0].id) == "duplicate"
    )
    etag = '"1-0000"'
    assert (await client.patch(url, json={"kind": "paraphrase"}, headers={"If-Match": etag})).status_code == 410
    assert (await client.delete("/v1/claims/999")).status_code == 404


async def test_list_etag_answers_304_too(client: httpx.AsyncClient, db: Database) -> None:
    await write(db, document("https://e.com/1", quote("Listed.")))
    first = await client.get("/v1/claims")
    again = await client.get("/v1/claims", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
