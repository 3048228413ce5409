"""`POST /v1/extract`: the CLI's answer over HTTP; `write=true` imports once; bad input gets a reason."""

from __future__ import annotations

from datetime import date

import httpx

from api.extraction import line_for
from db.database import Database
from extract.document import Meta
from extract.inputs import Item
from tests.articles import ARTICLE
from tests.rest_helpers import document, quote, write

TEXT = {"Content-Type": "text/plain; charset=utf-8"}


async def test_plain_text_is_answered_with_the_same_document_as_the_command_line(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.post("/v1/extract?date=2025-11-26", content=ARTICLE.encode(), headers=TEXT)
    assert r.status_code == 200, r.text
    body = r.json()
    cli, _ = line_for(Item("x", ARTICLE, Meta(published=date(2025, 11, 26))))
    assert body["document"] == cli["document"]
    assert body["attributions"] == cli["attributions"]
    assert body["dateline"]["agency"] == "Reuters"
    assert "written" not in body


async def test_json_bodies_carry_the_optional_facts(anonymous: httpx.AsyncClient) -> None:
    payload = {"text": ARTICLE, "title": "Doe quits", "date": "2025-11-26", "url": "https://example.com/doe"}
    r = await anonymous.post("/v1/extract", json=payload)
    assert r.status_code == 200, r.text
    source = r.json()["document"]["source"]
    assert (source["title"], source["url"], source["published_at"]) == (
        "Doe quits",
        "https://example.com/doe",
        "2025-11-26",
    )


async def test_writing_needs_the_write_scope(anonymous: httpx.AsyncClient, keys: dict[str, str]) -> None:
    r = await anonymous.post("/v1/extract?write=true", content=ARTICLE.encode(), headers=TEXT)
    assert r.status_code == 401
    r = await anonymous.post(
        "/v1/extract?write=true", content=ARTICLE.encode(), headers={**TEXT, "X-API-Key": keys["read"]}
    )
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_write_true_imports_once_and_answers_the_ids(client: httpx.AsyncClient, db: Database) -> None:
    r = await client.post("/v1/extract?write=true&date=2025-11-26", content=ARTICLE.encode(), headers=TEXT)
    assert r.status_code == 200, r.text
    written = r.json()["written"]
    assert written["created"] is True
    ids = [c["id"] for c in written["claims"]]
    assert ids and await db.fetchval("SELECT count(*) FROM claim") == len(set(ids))
    again = await client.post("/v1/extract?write=true&date=2025-11-26", content=ARTICLE.encode(), headers=TEXT)
    assert again.json()["written"]["created"] is False
    assert [c["id"] for c in again.json()["written"]["claims"]] == ids


async def test_bad_input_is_a_problem_naming_the_field_and_the_reason(anonymous: httpx.AsyncClient) -> None:
    cases = [
        (b"", TEXT, 422, "text"),
        (b"   \n ", TEXT, 422, "text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", TEXT, 422, "text"),
        (
            "Der Kanzler sagte am Montag, dass die Regierung die Steuern nicht erhöhen werde.".encode(),
            TEXT,
            422,
            "text",
        ),
        (b"\x00\x01", {"Content-Type": "application/octet-stream"}, 415, None),
        (b'{"text": "x", "colour": 1}', {"Content-Type": "application/json"}, 422, "colour"),
        (b'{"title": "x"}', {"Content-Type": "application/json"}, 422, "text"),
    ]
    for body, headers, status, field in cases:
        r = await anonymous.post("/v1/extract", content=body, headers=headers)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        if field:
            assert field in [e["field"] for e in r.json()["errors"]], r.text
    german = await anonymous.post("/v1/extract", content=cases[3][0], headers=TEXT)
    assert "not in English" in german.json()["detail"]


async def test_html_is_read_as_its_text(anonymous: httpx.AsyncClient) -> None:
    html = "<html><body><p>" + ARTICLE.replace("\n\n", "</p><p>") + "</p></body></html>"
    r = await anonymous.post("/v1/extract?date=2025-11-26", content=html.encode(), headers=TEXT)
    assert r.status_code == 200, r.text
    assert "<p>" not in r.json()["document"]["source"]["text"]
    assert r.json()["document"]["claims"]


async def test_a_body_over_the_limit_is_413(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.post("/v1/extract", content=b"word " * 500_000, headers=TEXT)
    assert r.status_code == 413


async def test_extracted_claims_are_unreviewed_until_reviewed_and_hand_written_ones_are_curated(
    client: httpx.AsyncClient, db: Database
) -> None:
    await write(db, document("https://example.com/by-hand", quote("We will win.")))
    r = await client.post("/v1/extract?write=true&date=2025-11-26", content=ARTICLE.encode(), headers=TEXT)
    extracted = {c["id"] for c in r.json()["written"]["claims"]}
    listed = (await client.get("/v1/claims?review_state=unreviewed&limit=100")).json()["data"]
    assert {c["id"] for c in listed} == extracted
    first = listed[0]
    assert first["extraction"]["extractor"] == "claimsbase-extract"
    assert 0 <= first["extraction"]["confidence"] <= 1
    curated = (await client.get("/v1/claims?review_state=curated")).json()["data"]
    assert [c["content"] for c in curated] == ["We will win."]
    assert curated[0]["extraction"] is None

    claim_url = f"/v1/claims/{first['id']}"
    etag = (await client.get(claim_url)).headers["etag"]
    r = await client.patch(claim_url, json={"review_state": "confirmed"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["review_state"] == "confirmed"
    assert first["id"] not in {c["id"] for c in (await client.get("/v1/claims?review_state=unreviewed")).json()["data"]}

    second = next(i for i in extracted if i != first["id"]) if len(extracted) > 1 else None
    if second is not None:
        url = f"/v1/claims/{second}"
        etag = (await client.get(url)).headers["etag"]
        r = await client.patch(url, json={"kind": "paraphrase"}, headers={"If-Match": etag})
        assert r.json()["review_state"] == "edited"

    hand = curated[0]["id"]
    etag = (await client.get(f"/v1/claims/{hand}")).headers["etag"]
    r = await client.patch(f"/v1/claims/{hand}", json={"review_state": "rejected"}, headers={"If-Match": etag})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"].endswith("review_state")


async def test_graphql_filters_claims_by_review_state(client: httpx.AsyncClient, db: Database) -> None:
    await write(db, document("https://example.com/by-hand", quote("We will win.")))
    r = await client.post("/v1/extract?write=true&date=2025-11-26", content=ARTICLE.encode(), headers=TEXT)
    extracted = len({c["id"] for c in r.json()["written"]["claims"]})
    query = "query($s: [ReviewState!]) { claims(filter: {reviewState: $s}, first: 50) { totalCount } }"
    for states, expected in ((["UNREVIEWED"], extracted), (["CURATED"], 1), (["CURATED", "UNREVIEWED"], extracted + 1)):
        r = await client.post("/graphql", json={"query": query, "variables": {"s": states}})
        assert r.json() == {"data": {"claims": {"totalCount": expected}}}, r.text
