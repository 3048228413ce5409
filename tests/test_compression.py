"""gzip by Accept-Encoding: big bodies and export streams compressed, ETags correct per encoding."""

from __future__ import annotations

import gzip
import json
import zlib

import httpx

from api.compression import MIN_BYTES, accepts_gzip
from db.database import Database
from tests.rest_helpers import MERZ, document, quote, write

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


async def raw(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent (httpx would otherwise decode it)."""
    async with http.stream("GET", path, headers=headers) as response:
        return response, b"".join([chunk async for chunk in response.aiter_raw()])


async def some_claims(db: Database, n: int) -> None:
    for i in range(n):
        claim = quote(f"Statement number {i} on the coalition of the willing and its joint work.", MERZ)
        await write(db, document(f"https://example.com/articles/{i}", claim, title=f"Article {i}"))


async def test_the_openapi_document_is_gzip_and_at_least_five_times_smaller(anonymous: httpx.AsyncClient) -> None:
    plain, plain_body = await raw(anonymous, "/openapi.json", IDENTITY)
    packed, packed_body = await raw(anonymous, "/openapi.json", GZIP)
    assert plain.headers.get("content-encoding") is None and packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed_body) == plain_body
    assert len(plain_body) >= 5 * len(packed_body), (len(plain_body), len(packed_body))
    assert int(packed.headers["content-length"]) == len(packed_body)
    assert "Accept-Encoding" in packed.headers["vary"]


async def test_small_bodies_heads_and_refusing_clients_get_identity(anonymous: httpx.AsyncClient) -> None:
    small, body = await raw(anonymous, "/healthz", GZIP)
    assert len(body) < MIN_BYTES and small.headers.get("content-encoding") is None
    refused, _ = await raw(anonymous, "/openapi.json", {"Accept-Encoding": "gzip;q=0, br"})
    assert refused.headers.get("content-encoding") is None
    head = await anonymous.head("/v1/claims", headers=GZIP)
    assert head.headers.get("content-encoding") is None


async def test_etags_differ_per_encoding_and_a_gzip_copy_still_earns_a_304(
    anonymous: httpx.AsyncClient, db: Database
) -> None:
    await some_claims(db, 12)
    plain, plain_body = await raw(anonymous, "/v1/claims?limit=12", IDENTITY)
    packed, packed_body = await raw(anonymous, "/v1/claims?limit=12", GZIP)
    assert packed.headers["content-encoding"] == "gzip" and gzip.decompress(packed_body) == plain_body
    assert packed.headers["etag"] == plain.headers["etag"][:-1] + '-gzip"'
    assert packed.headers["vary"] == "Accept, Accept-Encoding"

    again = await anonymous.get("/v1/claims?limit=12", headers={**GZIP, "If-None-Match": packed.headers["etag"]})
    assert (again.status_code, again.headers["etag"]) == (304, packed.headers["etag"])
    plain_again = await anonymous.get(
        "/v1/claims?limit=12", headers={**IDENTITY, "If-None-Match": plain.headers["etag"]}
    )
    assert (plain_again.status_code, plain_again.headers["etag"]) == (304, plain.headers["etag"])


async def test_a_write_precondition_from_a_gzip_read_still_matches(client: httpx.AsyncClient, db: Database) -> None:
    long = " ".join(f"Point {i}: the leaders agreed to accelerate their joint work." for i in range(40))
    written = await write(db, document("https://example.com/long", quote(long, MERZ), title="A long statement"))
    claim_id = written.claims[0].id
    read = await client.get(f"/v1/claims/{claim_id}", headers=GZIP)
    assert read.headers["content-encoding"] == "gzip"
    etag = read.headers["etag"]
    assert etag.endswith('-gzip"')
    patched = await client.patch(f"/v1/claims/{claim_id}", json={"topics": ["coalition"]}, headers={"If-Match": etag})
    assert patched.status_code == 200, patched.text
    stale = await client.patch(f"/v1/claims/{claim_id}", json={"topics": ["other"]}, headers={"If-Match": etag})
    assert stale.status_code == 412


async def test_the_export_stream_is_compressed_line_by_line(anonymous: httpx.AsyncClient, db: Database) -> None:
    await some_claims(db, 30)
    response, body = await raw(anonymous, "/v1/export", GZIP)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip" and "content-length" not in response.headers
    lines = gzip.decompress(body).decode().splitlines()
    assert len(lines) == 30 and all(json.loads(line)["source"]["url"] for line in lines)
    # Each chunk is flushed as it goes: a partial stream already decodes to whole lines.
    partial = zlib.decompressobj(31).decompress(body[: len(body) // 2])
    assert partial.count(b"\n") >= 1


def test_accept_encoding_is_read_as_rfc_9110_says() -> None:
    assert accepts_gzip(b"gzip, deflate, br") and accepts_gzip(b"GZIP;q=0.5") and accepts_gzip(b"*")
    assert not accepts_gzip(None) and not accepts_gzip(b"identity") and not accepts_gzip(b"br")
    assert not accepts_gzip(b"gzip;q=0") and not accepts_gzip(b"br, gzip ; q=0.0") and not accepts_gzip(b"*;q=0")
