"""What the data model lets through (issue 24): claims linked to their document, deleted claims
posted again, dates that cannot be."""

from __future__ import annotations

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
