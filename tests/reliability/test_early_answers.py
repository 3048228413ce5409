"""Early answers reach clients that write their whole body before reading (Python's urllib): the
server reads and discards the body (up to a bound) instead of closing on it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.reliability.serving import claims_server

TEN_MB = b"x" * 10_000_000


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, dict[str, object]]:
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json", **headers})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    error = refused.value
    return error.code, error.headers["content-type"], json.loads(error.read())


def test_a_10_mb_body_gets_its_413_and_an_anonymous_write_its_401(server_dsn: str) -> None:
    with claims_server(server_dsn) as server:
        status, media, body = post(server.base + "/v1/sources", TEN_MB, {})
        assert (status, media, body["status"]) == (413, "application/problem+json", 413)
        status, media, body = post(server.base + "/v1/sources", TEN_MB[:1_500_000], {"X-API-Key": "cb_0_forged"})
        assert (status, media, body["status"]) == (401, "application/problem+json", 401)
