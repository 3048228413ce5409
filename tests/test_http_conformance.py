"""HTTP as RFC 9110 and clients expect it: authentication before the body, HEAD, 405 with Allow,
If-Match on reads, problems for oversized requests."""

from __future__ import annotations

import httpx
import pytest

from db.database import Database
from tests.rest_helpers import demo

PROBLEM = "application/problem+json"
WRITES = [
    ("POST", "/v1/sources"),
    ("POST", "/v1/claims"),
    ("PATCH", "/v1/claims/1"),
    ("DELETE", "/v1/claims/1"),
    ("POST", "/v1/entities/1/merge"),
    ("POST", "/v1/import"),
]
BODIES = [b"{not json", b"{}", b"[]", b"", "\u00e9".encode("latin-1")]


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_an_unauthenticated_write_is_401_whatever_its_body(
    anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    for body in BODIES:
        response = await anonymous.request(method, path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 401, (body, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'


async def test_a_bad_key_on_a_write_is_401_before_the_body_is_read(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post("/v1/sources", content=b"{not json", headers={"X-API-Key": "cb_forged_key"})
    assert response.status_code == 401
    assert response.json()["detail"] == "The API key is invalid or has been revoked."


async def test_a_read_key_on_a_write_is_403_before_the_body_is_read(
    anonymous: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    response = await anonymous.post("/v1/sources", content=b"{not json", headers={"X-API-Key": keys["read"]})
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


async def test_a_write_key_still_gets_the_bodys_422(anonymous: httpx.AsyncClient, keys: dict[str, str]) -> None:
    response = await anonymous.post("/v1/sources", content=b"{}", headers={"X-API-Key": keys["write"]})
    assert response.status_code == 422


async def test_an_unserved_method_is_405_not_401(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.put("/v1/claims/1", content=b"{}")
    assert response.status_code == 405
    assert response.headers["allow"]


async def test_a_read_needs_no_key_with_demo_data(anonymous: httpx.AsyncClient, db: Database) -> None:
    await demo(db)
    assert (await anonymous.get("/v1/claims/1")).status_code == 200


async def test_head_answers_a_get_resource_like_get_without_the_body(
    anonymous: httpx.AsyncClient, db: Database
) -> None:
    await demo(db)
    for path in ("/v1/claims/2", "/v1/claims", "/v1/sources/1", "/v1/entities", "/v1/claims?lang=en", "/"):
        identity = {"Accept-Encoding": "identity"}  # HEAD describes the identity representation (no gzip)
        got = await anonymous.get(path, headers=identity)
        head = await anonymous.head(path, headers=identity)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers.get("etag") == got.headers.get("etag")
        assert head.headers["content-length"] == got.headers["content-length"]
        assert head.headers["content-type"] == got.headers["content-type"]
    assert (await anonymous.head("/v1/claims/999999")).status_code == 404


@pytest.mark.parametrize("method", ["PUT", "TRACE", "POST"])
async def test_a_405_lists_the_paths_methods_head_and_options_included(
    anonymous: httpx.AsyncClient, method: str
) -> None:
    response = await anonymous.request(method, "/v1/claims/2")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"


async def test_options_answers_with_allow(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.options("/v1/claims")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert (await anonymous.options("/v1/nowhere")).status_code == 404


async def test_if_match_on_a_read_is_412_unless_it_names_the_current_etag(
    anonymous: httpx.AsyncClient, db: Database
) -> None:
    await demo(db)
    etag = (await anonymous.get("/v1/claims/2")).headers["etag"]
    stale = await anonymous.get("/v1/claims/2", headers={"If-Match": '"0-0000000000000000"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    assert stale.json()["status"] == 412
    assert (await anonymous.head("/v1/claims/2", headers={"If-Match": '"nope"'})).status_code == 412
    assert (await anonymous.get("/v1/claims/2", headers={"If-Match": etag})).status_code == 200
    assert (await anonymous.get("/v1/claims/2", headers={"If-Match": f'"x", {etag}'})).status_code == 200
    assert (await anonymous.get("/v1/claims/2", headers={"If-Match": "*"})).status_code == 200
    assert (await anonymous.get("/v1/claims/2", headers={"If-Match": f"W/{etag}"})).status_code == 412
    assert (await anonymous.get("/v1/claims/999999", headers={"If-Match": etag})).status_code == 404
    both = {"If-Match": '"nope"', "If-None-Match": etag}
    assert (await anonymous.get("/v1/claims/2", headers=both)).status_code == 412
