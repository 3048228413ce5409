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
