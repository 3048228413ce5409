"""What the data model lets through (issue 24): claims linked to their document, deleted claims
posted again, dates that cannot be."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.rest_helpers import MERZ, document


def bare(content: str, **extra: Any) -> dict[str, Any]:
    """A claim without an appearance."""
    return {"content": content, "speakers": [{"entity": MERZ}], "said_at": "2025-11-25", **extra}


async def test_a_claim_in_a_source_document_appears_in_it_by_default(client: httpx.AsyncClient) -> None:
    written = await client.post("/v1/sources", json=document("https://e.com/1", bare("Robust guarantees.")))
    assert written.status_code == 201
    source_id, claim_id = written.json()["source_id"], written.json()["claims"][0]["id"]

    claim = (await client.get(f"/v1/claims/{claim_id}")).json()
    assert [a["quote"] for a in claim["appearances"]] == ["Robust guarantees."]
    assert claim["first_reported_at"] == "2025-11-26T09:00:00+00:00"
    source = (await client.get(f"/v1/sources/{source_id}")).json()
    assert [c["id"] for c in source["claims"]] == [claim_id]
    assert source["claim_count"] == 1
    exported = (await client.get("/v1/export")).text
    assert "Robust guarantees." in exported


async def test_posting_a_deleted_claim_again_is_refused_naming_it(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/sources", json=document("https://e.com/1", bare("Said once.")))
    claim_id = first.json()["claims"][0]["id"]
    assert (await client.delete(f"/v1/claims/{claim_id}")).status_code == 204

    again = await client.post("/v1/sources", json=document("https://e.com/2", bare("Other."), bare("Said once.")))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert str(claim_id) in again.json()["detail"]
    assert again.json()["errors"][0]["field"] == "body.claims[1]"
    assert (await client.get("/v1/sources/2")).status_code == 404  # nothing of the document was written
    assert (await client.get(f"/v1/claims/{claim_id}")).status_code == 410

    one = await client.post("/v1/claims", json={"source": {"id": 1}, "claim": bare("Said once.")})
    assert one.status_code == 409
    assert one.json()["errors"][0]["field"] == "body.claim"
    imported = await client.post(
        "/v1/import",
        content=json.dumps(document("https://e.com/3", bare("Said once."))),
        headers={"content-type": "application/x-ndjson"},
    )
    assert imported.json()["failed"] == 1


async def test_a_claim_said_after_its_source_was_published_is_422_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    late = document("https://e.com/1", bare("Early.", said_at="2025-10-01"), bare("Late.", said_at="2025-11-29"))
    late["source"]["published_at"] = "2025-11-01"
    response = await client.post("/v1/sources", json=late)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.claims[1].said_at"
    same_day = document("https://e.com/2", bare("Same day.", said_at="2025-11-01T15:00:00Z"))
    same_day["source"]["published_at"] = "2025-11-01"
    assert (await client.post("/v1/sources", json=same_day)).status_code == 201


async def test_a_source_published_in_the_future_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    future = document("https://e.com/1", bare("Soon."))
    future["source"]["published_at"] = "2099-01-01"
    response = await client.post("/v1/sources", json=future)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.source.published_at"


async def test_a_date_is_stored_at_its_precision_and_shown_at_it_in_json_ld(client: httpx.AsyncClient, db: Any) -> None:
    claims = [
        bare("In a year.", said_at="2025-11-25T10:00:00Z", said_at_precision="year"),
        bare("In a month.", said_at="2025-11-25T10:00:00Z", said_at_precision="month"),
        bare("On a day.", said_at="2025-11-25T23:30:00-05:00", said_at_precision="day"),
        bare("At an instant.", said_at="2025-11-25T10:00:00Z"),
    ]
    written = (await client.post("/v1/sources", json=document("https://e.com/1", *claims))).json()
    ids = [c["id"] for c in written["claims"]]
    stored = [await db.fetchval("SELECT said_at FROM claim WHERE id = $1", i) for i in ids]
    assert [s.isoformat() for s in stored] == [
        "2025-01-01T00:00:00+00:00",
        "2025-11-01T00:00:00+00:00",
        "2025-11-25T00:00:00+00:00",
        "2025-11-25T10:00:00+00:00",
    ]
    ld = [(await client.get(f"/v1/claims/{i}", headers={"Accept": "application/ld+json"})).json() for i in ids]
    assert [c["dateCreated"] for c in ld] == ["2025", "2025-11", "2025-11-25", "2025-11-25T10:00:00+00:00"]


async def test_a_coarser_precision_patched_in_cuts_the_stored_date(client: httpx.AsyncClient, db: Any) -> None:
    written = (
        await client.post(
            "/v1/sources", json=document("https://e.com/1", bare("Then.", said_at="2025-11-25T10:00:00Z"))
        )
    ).json()
    url = f"/v1/claims/{written['claims'][0]['id']}"
    etag = (await client.get(url)).headers["etag"]
    patched = await client.patch(url, json={"said_at_precision": "month"}, headers={"If-Match": etag})
    assert patched.status_code == 200
    assert patched.json()["said_at"] == "2025-11-01T00:00:00+00:00"
    assert patched.json()["said_at_precision"] == "month"
