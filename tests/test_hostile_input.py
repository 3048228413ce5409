"""Hostile input: every case is answered with a 4xx (never a 5xx), tells nothing of the insides, and
writes nothing.

One table per surface; each row is one request. REST answers are `application/problem+json`;
GraphQL answers are GraphQL errors (status 200 or 4xx, as the GraphQL-over-HTTP convention has it)
without stack traces or SQL. Row counts of every table are compared before and after each case.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote as urlquote
from urllib.parse import unquote

import httpx
import orjson
import pytest

from api.app import create_app
from api.settings import Settings
from db.database import Database
from db.keys import create_key
from tests.helpers import TABLES as ALL_TABLES
from tests.rest_helpers import MERZ, demo, document, graphql_input, quote

TABLES = (
    "entity",
    "entity_alias",
    "entity_external_id",
    "entity_role",
    "topic",
    "source",
    "source_author",
    "claim",
    "claim_speaker",
    "appearance",
    "mention",
    "claim_topic",
    "claim_relation",
    "claim_deletion",
)
# Row counts, plus the claims' versions (an update changes no count) and the deletions.
COUNTS = "SELECT (SELECT coalesce(sum(version), 0) FROM claim) AS versions, " + ", ".join(
    f"(SELECT count(*) FROM {t}) AS {t}" for t in TABLES
)
# What an error body must never show: a traceback, a driver's name, SQL, a file path.
LEAKS = ("Traceback", 'File "', "asyncpg", "psycopg", "SELECT ", "INSERT ", " FROM ", "sqlstate", "/work/", ".py")
PROBLEM = "application/problem+json"
TEN_MB = 10 * 1024 * 1024
ANY: dict[str, str | bytes] = {"if-match": "*"}


def b64(text: str) -> str:
    """A cursor-shaped string: what this API's cursors look like, with made-up contents."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def good_doc(**source: Any) -> dict[str, Any]:
    return document("https://example.org/hostile/1", quote("A quote that should never be written."), **source)


def with_url(url: str) -> dict[str, Any]:
    doc = good_doc()
    return {**doc, "source": {**doc["source"], "url": url}}


def with_claim(**claim: Any) -> dict[str, Any]:
    return document("https://example.org/hostile/2", {**quote("Another quote never written."), **claim})


def json_bytes(value: Any) -> bytes:
    """JSON as a client would send it (the standard library's, which writes integers of any size)."""
    return json.dumps(value).encode()


@dataclass(frozen=True)
class Case:
    """One hostile request and what must come back."""

    method: str
    path: str
    statuses: frozenset[int] = frozenset({400, 422})
    content: bytes | None = None
    headers: dict[str, str | bytes] = field(default_factory=dict)
    names: tuple[str, ...] = ()  # strings the answer must contain (the field, the limit)


def case(
    method: str,
    path: str,
    *statuses: int,
    body: Any = None,
    raw: bytes | None = None,
    ctype: str = "application/json",
    headers: dict[str, str | bytes] | None = None,
    names: tuple[str, ...] = (),
) -> Case:
    content = raw if raw is not None else (json_bytes(body) if body is not None else None)
    hdrs: dict[str, str | bytes] = {"content-type": ctype} if content is not None else {}
    return Case(method, path, frozenset(statuses or (400, 422)), content, {**hdrs, **(headers or {})}, names)


INJECTIONS = ("' OR '1'='1", "1; DROP TABLE claim; --", "1 UNION SELECT id FROM api_key", "$1::text", "\\'; --")

REST_CASES = {
    # -- malformed bodies ------------------------------------------------------------------------
    "malformed json": case("POST", "/v1/sources", raw=b'{"source": {"kind": '),
    "json with a trailing comma": case("POST", "/v1/sources", raw=b'{"source": {"kind": "news_article"},}'),
    "json that is a string": case("POST", "/v1/sources", raw=b'"just a string"'),
    "json that is null": case("POST", "/v1/sources", raw=b"null"),
    "an empty body": case("POST", "/v1/sources", raw=b""),
    "a json body sent as text/plain": case("POST", "/v1/sources", 400, 415, 422, body=good_doc(), ctype="text/plain"),
    "a json body sent as a form": case(
        "POST", "/v1/sources", 400, 415, 422, raw=b"source=1", ctype="application/x-www-form-urlencoded"
    ),
    "a json body sent as multipart": case(
        "POST", "/v1/sources", 400, 415, 422, raw=b"--x\r\n\r\n--x--", ctype="multipart/form-data; boundary=x"
    ),
    "ndjson sent to the import as json": case("POST", "/v1/import", 415, body=good_doc()),
    "ndjson sent to the import as xml": case("POST", "/v1/import", 415, raw=b"<a/>", ctype="application/xml"),
    "invalid utf-8 in a body": case(
        "POST", "/v1/sources", raw=b'{"source": {"kind": "news_article", "title": "\xff\xfe"}}'
    ),
    "an overlong utf-8 sequence": case("POST", "/v1/sources", raw=b'{"source": {"kind": "news_\xc0\xafarticle"}}'),
    "a lone surrogate escape": case(
        "POST", "/v1/sources", body=None, raw=b'{"source": {"kind": "news_article", "title": "\\ud800"}, "claims": []}'
    ),
    "a nul byte in a title": case("POST", "/v1/sources", 422, body=good_doc(title="a\x00b")),
    "a url with half an IPv6 host": case("POST", "/v1/sources", 422, body=with_url("http://["), names=("url",)),
    "a url with a port out of range": case(
        "POST", "/v1/sources", 422, body=with_url("http://example.org:99999/x"), names=("url",)
    ),
    "a url without a host": case("POST", "/v1/sources", 422, body=with_url("http://:80/x"), names=("url",)),
    "a nul byte in a quote": case("POST", "/v1/sources", 422, body=with_claim(content="a\x00b")),
    "a nul byte in an entity name": case(
        "POST", "/v1/sources", 422, body=document("https://example.org/h/3", quote("x", {"name": "Me\x00rz"}))
    ),
    "a nul byte in an alias": case(
        "POST", "/v1/sources", 422, body=document("https://example.org/h/4", quote("x", {**MERZ, "aliases": ["\x00"]}))
    ),
    "a nul byte in an external id": case(
        "POST",
        "/v1/sources",
        422,
        body=document("https://example.org/h/5", quote("x", {"name": "A", "external_ids": {"isni": "1\x002"}})),
    ),
    "a raw nul byte in the json": case("POST", "/v1/sources", raw=b'{"source": {"kind": "news_article\x00"}}'),
    "a 10 MB string": case(
        "POST", "/v1/sources", 413, body=good_doc(title="x" * TEN_MB), names=("CLAIMS_MAX_BODY_BYTES", "2000000")
    ),
    "a 10 MB graphql query": case(
        "POST", "/graphql", 413, body={"query": "{ " + "a " * (TEN_MB // 2) + "}"}, names=("CLAIMS_MAX_BODY_BYTES",)
    ),
    "a 10 MB claim": case(
        "POST", "/v1/claims", 413, body={"claim": {"content": "y" * TEN_MB}}, names=("CLAIMS_MAX_BODY_BYTES",)
    ),
    "100k nested arrays": case("POST", "/v1/sources", 400, 413, 422, raw=b"[" * 100_000),
    "100k nested objects": case("POST", "/v1/sources", 400, 413, 422, raw=b'{"a":' * 100_000),
    "100k nested arrays in a field": case(
        "POST", "/v1/sources", 400, 413, 422, raw=b'{"source": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    ),
    "nested arrays within the size cap": case("POST", "/v1/sources", 400, 422, raw=b"[" * 1_000_000),
    "nested arrays to a patch": case("PATCH", "/v1/claims/1", 400, 422, 428, raw=b"[" * 100_000),
    "nested arrays to a merge": case("POST", "/v1/entities/1/merge", 400, 422, raw=b"[" * 100_000),
    "nested arrays to a new claim": case("POST", "/v1/claims", 400, 422, raw=b"[" * 100_000),
    # -- updates, merges and deletes (If-Match: * passes the precondition, so validation must stop them)
    "a patch to year 0": case(
        "PATCH", "/v1/claims/1", 422, body={"said_at": "0000-01-01"}, headers=ANY, names=("said_at",)
    ),
    "a patch to 2056": case(
        "PATCH", "/v1/claims/1", 422, body={"said_at": "2056-01-01"}, headers=ANY, names=("said_at",)
    ),
    "a patch to year 99999": case(
        "PATCH", "/v1/claims/1", 422, body={"said_at": "99999-01-01T00:00:00Z"}, headers=ANY, names=("said_at",)
    ),
    "a patch with a nul byte": case("PATCH", "/v1/claims/1", 422, body={"content": "a\x00b"}, headers=ANY),
    "a patch with sql in language": case(
        "PATCH", "/v1/claims/1", 422, body={"language": "en'; DROP TABLE claim; --"}, headers=ANY, names=("language",)
    ),
    "a patch with sql in topics": case(
        "PATCH", "/v1/claims/1", 422, body={"topics": ["' OR 1=1 --"]}, headers=ANY, names=("topics",)
    ),
    "a patch with an unknown field": case(
        "PATCH", "/v1/claims/1", 422, body={"version": 99}, headers=ANY, names=("version",)
    ),
    "a patch clearing the kind": case("PATCH", "/v1/claims/1", 422, body={"kind": None}, headers=ANY),
    "a patch that is a list": case("PATCH", "/v1/claims/1", 400, 422, body=[{"kind": "paraphrase"}], headers=ANY),
    "a patch of 10 MB": case(
        "PATCH", "/v1/claims/1", 413, body={"content": "z" * TEN_MB}, headers=ANY, names=("CLAIMS_MAX_BODY_BYTES",)
    ),
    "a patch as text/plain": case(
        "PATCH", "/v1/claims/1", 400, 415, 422, body={"kind": "paraphrase"}, ctype="text/plain", headers=ANY
    ),
    "a new claim in year 0": case(
        "POST",
        "/v1/claims",
        422,
        body={"source": {"id": 1}, "claim": quote("x", said_at="0000-01-01")},
        names=("said_at",),
    ),
    "a new claim for a source past bigint": case(
        "POST", "/v1/claims", 404, 422, body={"source": {"id": 2**64}, "claim": quote("x")}
    ),
    "a new claim for a source of sql": case(
        "POST", "/v1/claims", 404, 422, body={"source": {"id": "1 OR 1=1"}, "claim": quote("x")}
    ),
    "a new claim with a source published in 99999": case(
        "POST",
        "/v1/claims",
        422,
        body={"source": {"kind": "news_article", "title": "t", "published_at": "99999-01-01"}, "claim": quote("x")},
        names=("published_at",),
    ),
    "a merge into sql": case(
        "POST", "/v1/entities/1/merge", 422, body={"into": "2; DROP TABLE entity"}, names=("into",)
    ),
    "a merge into an id past bigint": case("POST", "/v1/entities/1/merge", 422, body={"into": 2**64}),
    "a merge into itself": case("POST", "/v1/entities/1/merge", 400, 409, 422, body={"into": 1}),
    "a merge into nothing": case("POST", "/v1/entities/1/merge", 404, 422, body={"into": 999999}),
    "a merge with an unknown field": case(
        "POST", "/v1/entities/1/merge", 422, body={"into": 2, "force": True}, names=("force",)
    ),
    "a delete of nothing": case("DELETE", "/v1/claims/999999", 404, headers=ANY),
    "a delete with a nul reason": case("DELETE", "/v1/claims/1?reason=a%00b", 422, headers=ANY, names=("reason",)),
    "a delete with a 10 kB reason": case("DELETE", "/v1/claims/1?reason=" + "r" * 10_000, 422, headers=ANY),
    "a delete with a stale etag": case("DELETE", "/v1/claims/1", 412, headers={"if-match": '"1-0000000000000000"'}),
    # -- unknown fields and parameters -------------------------------------------------------------
    "an unknown top-level field": case("POST", "/v1/sources", 422, body={**good_doc(), "sneaky": 1}, names=("sneaky",)),
    "an unknown source field": case("POST", "/v1/sources", 422, body=good_doc(is_admin=True), names=("is_admin",)),
    "an unknown claim field": case("POST", "/v1/sources", 422, body=with_claim(verified=True), names=("verified",)),
    "an unknown entity field": case(
        "POST",
        "/v1/sources",
        422,
        body=document("https://example.org/h/6", quote("x", {**MERZ, "merged_into": 1})),
        names=("merged_into",),
    ),
    "an unknown field in a new claim": case(
        "POST", "/v1/claims", 422, body={"claim": quote("x"), "source_id": 1, "id": 7}, names=("id",)
    ),
    "an unknown query parameter": case("GET", "/v1/claims?speakers=1", 400, names=("speakers",)),
    "an unknown query parameter on a source": case("GET", "/v1/sources/1?expand=all", 400, names=("expand",)),
    "an unknown query parameter on entities": case("GET", "/v1/entities?name=Merz", 400, names=("name",)),
    # -- impossible dates --------------------------------------------------------------------------
    "said at in year 0": case("POST", "/v1/sources", 422, body=with_claim(said_at="0000-01-01"), names=("said_at",)),
    "said at in year 99999": case(
        "POST", "/v1/sources", 422, body=with_claim(said_at="99999-01-01"), names=("said_at",)
    ),
    "said at in 2056": case("POST", "/v1/sources", 422, body=with_claim(said_at="2056-03-01"), names=("said_at",)),
    "said at in 2056 with a time": case(
        "POST", "/v1/sources", 422, body=with_claim(said_at="2056-03-01T10:00:00Z"), names=("said_at",)
    ),
    "said at on 30 February": case(
        "POST", "/v1/sources", 422, body=with_claim(said_at="2025-02-30"), names=("said_at",)
    ),
    "said at as a unix time": case("POST", "/v1/sources", 422, body=with_claim(said_at=1700000000), names=("said_at",)),
    "said at at hour 25": case(
        "POST", "/v1/sources", 422, body=with_claim(said_at="2025-11-25T25:00:00Z"), names=("said_at",)
    ),
    "said at with a 24 h offset": case(
        "POST", "/v1/sources", 422, body=with_claim(said_at="2025-11-25T10:00:00+24:00"), names=("said_at",)
    ),
    "said at before the printing press": case(
        "POST", "/v1/sources", 422, body=with_claim(said_at="1066-10-14"), names=("said_at",)
    ),
    "published at in year 0": case(
        "POST", "/v1/sources", 422, body=good_doc(published_at="0000-01-01"), names=("published_at",)
    ),
    "published at in year 99999": case(
        "POST", "/v1/sources", 422, body=good_doc(published_at="99999-12-31T00:00:00Z"), names=("published_at",)
    ),
    "a role ending in year 99999": case(
        "POST",
        "/v1/sources",
        422,
        body=document("https://example.org/h/7", quote("x", {**MERZ, "roles": [{"title": "C", "end": "99999-01-01"}]})),
        names=("end",),
    ),
    "said after year 0": case("GET", "/v1/claims?said_after=0000-01-01", 422, names=("said_after",)),
    "said before year 99999": case("GET", "/v1/claims?said_before=99999-01-01", 422, names=("said_before",)),
    "reported after 31 February": case("GET", "/v1/claims?reported_after=2025-02-31", 422, names=("reported_after",)),
    "reported before hour 24": case(
        "GET", "/v1/claims?reported_before=2025-01-01T24:00:00Z", 422, names=("reported_before",)
    ),
    "published after year 0": case("GET", "/v1/sources?published_after=0000-01-01", 422, names=("published_after",)),
    "export published before year 99999": case(
        "GET", "/v1/export?published_before=99999-01-01", 422, names=("published_before",)
    ),
    # -- forged and tampered cursors ---------------------------------------------------------------
    "a cursor that is not base64": case("GET", "/v1/claims?cursor=%%%%", 400, 422, names=("cursor",)),
    "a cursor that is random base64": case("GET", f"/v1/claims?cursor={b64('hello')}", 400, names=("cursor",)),
    "a cursor of another ordering": case(
        "GET", f"/v1/claims?cursor={b64('said_at|2025-01-01 00:00:00+00|1')}", 400, names=("cursor",)
    ),
    "a cursor with sql in its key": case(
        "GET", f"/v1/claims?cursor={b64(chr(39) + ' OR 1=1 --|x|1'.join(['-said_at|', '']))}", 400, names=("cursor",)
    ),
    "a cursor with a key of sql": case(
        "GET", f"/v1/claims?cursor={b64('-said_at|1) OR (1=1|1')}", 400, names=("cursor",)
    ),
    "a cursor with id 0": case("GET", f"/v1/claims?cursor={b64('-said_at|2025-01-01 00:00:00+00|0')}", 400),
    "a cursor with a 2^63 id": case(
        "GET", f"/v1/claims?cursor={b64('-said_at|2025-01-01 00:00:00+00|9223372036854775808')}", 400
    ),
    "a cursor with a negative id": case("GET", f"/v1/claims?cursor={b64('-said_at|2025-01-01 00:00:00+00|-1')}", 400),
    "a cursor in year 0": case("GET", f"/v1/claims?cursor={b64('-said_at|0000-01-01 00:00:00+00|1')}", 400),
    "a cursor with a 23 h offset": case(
        "GET", f"/v1/claims?cursor={b64('-said_at|2025-01-01T00:00:00+23:59|1')}", 200, 400
    ),
    "a cursor in year 9999 late in the day": case(
        "GET", f"/v1/claims?cursor={b64('-said_at|9999-12-31T23:59:59-12:00|1')}", 200, 400
    ),
    "a naive cursor in year 9999": case("GET", f"/v1/claims?cursor={b64('-said_at|9999-12-31T23:59:59|1')}", 200, 400),
    "a naive cursor in year 1": case(
        "GET", f"/v1/claims?sort=said_at&cursor={b64('said_at|0001-01-01T00:00:00|1')}", 200, 400
    ),
    "a cursor in year 1 east of greenwich": case(
        "GET", f"/v1/claims?sort=said_at&cursor={b64('said_at|0001-01-01T00:00:00+12:00|1')}", 200, 400
    ),
    "a reported-at cursor with a bad key": case(
        "GET", f"/v1/claims?sort=-reported_at&cursor={b64('-reported_at|tomorrow|1')}", 400
    ),
    "a relevance cursor of 1e400": case(
        "GET", f"/v1/claims?q=merz&sort=relevance&cursor={b64('relevance|1e400|1')}", 200, 400
    ),
    "a relevance cursor of nan": case(
        "GET", f"/v1/claims?q=merz&sort=relevance&cursor={b64('relevance|nan|1')}", 200, 400
    ),
    "a relevance cursor of -inf": case(
        "GET", f"/v1/claims?q=merz&sort=relevance&cursor={b64('relevance|-infinity|1')}", 200, 400
    ),
    "a relevance cursor of 1_0": case(
        "GET", f"/v1/claims?q=merz&sort=relevance&cursor={b64('relevance|1_0|1')}", 200, 400
    ),
    "a source cursor with a bad key": case("GET", f"/v1/sources?cursor={b64('sources|yesterday|1')}", 400),
    "a source cursor with a 23 h offset": case(
        "GET", f"/v1/sources?cursor={b64('sources|2025-01-01T00:00:00+23:59|1')}", 200, 400
    ),
    "an entity cursor of 25 digits": case("GET", f"/v1/entities?cursor={b64('entities|' + '9' * 25 + '|1')}", 200, 400),
    "an entity search cursor of 1e400": case(
        "GET", f"/v1/entities?q=merz&cursor={b64('entities-rank|1e400|1')}", 200, 400
    ),
    "an entity search cursor of nan": case("GET", f"/v1/entities?q=merz&cursor={b64('entities-rank|nan|1')}", 200, 400),
    "a topic cursor of sql": case("GET", f"/v1/topics?cursor={b64(chr(39) + ';--|1|1')}", 400),
    "an entity's claims with a forged cursor": case(
        "GET", f"/v1/entities/1/claims?cursor={b64('-said_at|x|1')}", 400, 404
    ),
    "a very long cursor": case("GET", "/v1/claims?cursor=" + "A" * 5000, 400, 422),
    "a nul byte in a cursor": case("GET", f"/v1/claims?cursor={b64(chr(0) + '-said_at|x|1')}", 400),
    # -- search syntax abuse (PostgreSQL's websearch_to_tsquery) ----------------------------------------
    "a search of 400 minus signs": case("GET", "/v1/claims?q=" + "-" * 400, 200),
    "a search of nested negations": case("GET", "/v1/claims?q=" + urlquote("-(-|-!-<") * 60, 200),
    "a search of negated stop words": case("GET", "/v1/claims?q=" + urlquote("-the -a -or ") * 40, 200),
    "a relevance search of minus signs": case("GET", "/v1/claims?sort=relevance&q=" + "-" * 400, 200),
    "a search of tsquery operators": case("GET", "/v1/claims?q=" + urlquote("!(&|:*<->)\\'") * 30, 200),
    "an entity search of tsquery operators": case("GET", "/v1/entities?q=" + urlquote("-!(&|:*<->)'") * 15, 200),
    # -- nul bytes outside bodies ------------------------------------------------------------------
    "a nul byte in q": case("GET", "/v1/claims?q=a%00b", 400, 422),
    "a nul byte in an entity search": case("GET", "/v1/entities?q=a%00b", 200, 400, 422),
    "a nul byte in a topic filter": case("GET", "/v1/claims?topic=a%00b", 422),
    "a nul byte in a language filter": case("GET", "/v1/claims?lang=e%00n", 422),
    "a nul byte in a kind filter": case("GET", "/v1/claims?kind=direct_quote%00", 422),
    "a nul byte in a topic path": case("GET", "/v1/topics/a%00b/claims", 404, 422),
    "a nul byte in an id path": case("GET", "/v1/claims/1%00", 404, 422),
    "a nul byte in a query parameter name": case("GET", "/v1/claims?a%00b=1", 400),
    "a nul byte in a delete reason": case("DELETE", "/v1/claims/1?reason=a%00b", 404, 422, 428),
    "invalid utf-8 in q": case("GET", "/v1/claims?q=%ff%fe", 200, 400, 422),
    "invalid utf-8 in an entity search": case("GET", "/v1/entities?q=%c0%af", 200, 400, 422),
    "a nul byte in If-None-Match": case("GET", "/v1/claims/1", 200, 400, 404, headers={"if-none-match": '"a\x00b"'}),
    "a nul byte in If-Match": case(
        "PATCH", "/v1/claims/1", 400, 404, 412, 422, body={"content": "x"}, headers={"if-match": '"1-\x00"'}
    ),
    "a nul byte in Accept": case("GET", "/v1/claims/1", 200, 400, 404, 406, headers={"accept": "application/\x00json"}),
    "a nul byte in X-Request-Id": case("GET", "/v1/claims/999999", 404, headers={"x-request-id": "a\x00b"}),
    "a nul byte in the content type": case(
        "POST", "/v1/sources", 400, 415, 422, body=good_doc(), ctype="application/json\x00"
    ),
    "a nul byte in the api key": case("GET", "/v1/claims", 401, headers={"x-api-key": "cb_\x00"}),
    "a latin-1 api key": case("GET", "/v1/claims", 401, headers={"x-api-key": b"cb_\xe9\xff"}),
    "an api key of 10 kB": case("GET", "/v1/claims", 401, headers={"x-api-key": "cb_" + "a" * 10_000}),
    # -- numbers out of range ----------------------------------------------------------------------
    "an id past bigint": case("GET", "/v1/claims/9223372036854775808", 404, 422),
    "an entity id of 1e400": case("GET", "/v1/entities/1e400", 404, 422),
    "a speaker past bigint": case("GET", "/v1/claims?speaker=99999999999999999999", 422),
    "a limit of a billion": case("GET", "/v1/claims?limit=1000000000", 422, names=("limit",)),
    "a span past int in an import": case(
        "POST",
        "/v1/import",
        200,
        raw=json_bytes(with_claim(appearance={"quote": "x", "span": [0, 2**40]})) + b"\n",
        ctype="application/x-ndjson",
    ),
    "a span past int": case(
        "POST",
        "/v1/sources",
        422,
        body=with_claim(appearance={"quote": "x", "span": [0, 2**40]}),
    ),
    "an entity ref id past bigint": case(
        "POST", "/v1/sources", 422, body=document("https://example.org/h/8", quote("x", {"id": 2**70}))
    ),
    "an entity ref id as a float": case(
        "POST", "/v1/sources", 422, body=document("https://example.org/h/9", quote("x", {"id": 1.5}))
    ),
    "a source id past bigint in a new claim": case(
        "POST", "/v1/claims", 422, body={"claim": quote("x"), "source_id": 2**64}
    ),
}

for _name, _value in enumerate(INJECTIONS):
    _v = urlquote(_value)
    REST_CASES |= {
        f"sql in q #{_name}": case("GET", f"/v1/claims?q={_v}", 200, 400, 422),
        f"sql in speaker #{_name}": case("GET", f"/v1/claims?speaker={_v}", 422),
        f"sql in mentions #{_name}": case("GET", f"/v1/claims?mentions={_v}", 422),
        f"sql in topic #{_name}": case("GET", f"/v1/claims?topic={_v}", 422),
        f"sql in source #{_name}": case("GET", f"/v1/claims?source={_v}", 422),
        f"sql in reported_by #{_name}": case("GET", f"/v1/claims?reported_by={_v}", 422),
        f"sql in said_after #{_name}": case("GET", f"/v1/claims?said_after={_v}", 422),
        f"sql in reported_before #{_name}": case("GET", f"/v1/claims?reported_before={_v}", 422),
        f"sql in kind #{_name}": case("GET", f"/v1/claims?kind={_v}", 422),
        f"sql in lang #{_name}": case("GET", f"/v1/claims?lang={_v}", 422),
        f"sql in sort #{_name}": case("GET", f"/v1/claims?sort={_v}", 422),
        f"sql in limit #{_name}": case("GET", f"/v1/claims?limit={_v}", 422),
        f"sql in cursor #{_name}": case("GET", f"/v1/claims?cursor={_v}", 400, 422),
        f"sql in a claim id #{_name}": case("GET", f"/v1/claims/{_v}", 404, 422),
        f"sql in entity search #{_name}": case("GET", f"/v1/entities?q={_v}", 200, 400, 422),
        f"sql in entity kind #{_name}": case("GET", f"/v1/entities?kind={_v}", 422),
        f"sql in an entity id #{_name}": case("GET", f"/v1/entities/{_v}/claims", 404, 422),
        f"sql in a topic slug #{_name}": case("GET", f"/v1/topics/{_v}/claims", 404, 422),
        f"sql in publisher #{_name}": case("GET", f"/v1/sources?publisher={_v}", 422),
        f"sql in published_after #{_name}": case("GET", f"/v1/sources?published_after={_v}", 422),
        f"sql in export publisher #{_name}": case("GET", f"/v1/export?publisher={_v}", 422),
        f"sql in an entity's claims q #{_name}": case("GET", f"/v1/entities/1/claims?q={_v}", 200, 400, 404, 422),
        f"sql in a written entity name #{_name}": case(
            "POST",
            "/v1/sources",
            201,
            422,
            body=document(f"https://example.org/sqli/{_name}", quote("x", {"name": _value})),
        ),
    }


@pytest.fixture(scope="module")
async def loaded(database: Database) -> Database:
    """The demo article (so that a query that leaks would have something to leak) and an admin key,
    set up once for the module: every case checks that it changed nothing, so they can share it."""
    await database.execute(ALL_TABLES)
    await demo(database)
    return database


@pytest.fixture(scope="module")
async def hostile(loaded: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of an in-process app over ``loaded``: every door open, so only validation stops a case."""
    key = (await create_key(loaded, ["admin"], name="hostile")).secret
    settings = Settings(load_demo=False, rate_limit_per_minute=0, database_url="postgresql://unused")
    app = create_app(settings, database=loaded)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"X-API-Key": key}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as http:
            yield http


async def counts(db: Database) -> dict[str, int]:
    row = await db.fetchrow(COUNTS)
    assert row is not None
    return dict(row)


def assert_tells_nothing(text: str, sent: str = "") -> None:
    """No traceback, driver, SQL or path in ``text``, unless it merely echoes what was ``sent``."""
    for leak in LEAKS:
        assert leak not in text or leak in sent, f"the answer shows {leak!r}: {text[:500]}"


@pytest.mark.parametrize("name", list(REST_CASES))
async def test_hostile_rest_requests_are_refused_without_writing(
    name: str, hostile: httpx.AsyncClient, loaded: Database
) -> None:
    c = REST_CASES[name]
    before = await counts(loaded)
    headers = [(k.encode(), v if isinstance(v, bytes) else v.encode("latin-1")) for k, v in c.headers.items()]
    response = await hostile.request(c.method, c.path, content=c.content, headers=headers)
    after = await counts(loaded)
    assert response.status_code in c.statuses, (response.status_code, response.text[:500])
    assert response.status_code < 500
    if response.status_code == 201:  # a name that looks like SQL is just a name: written as given
        written = response.json()["claims"][0]["id"]
        claim = (await hostile.get(f"/v1/claims/{written}")).json()
        assert claim["speakers"][0]["name"] in INJECTIONS
        return
    assert after == before, "a refused request wrote something"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM), response.headers["content-type"]
        problem = response.json()
        assert problem["status"] == response.status_code
        assert_tells_nothing(response.text, sent=unquote(c.path))
        for expected in c.names:
            assert expected in response.text, f"{expected!r} not named in {response.text[:500]}"


# -- the NDJSON import: a bad line is reported, never written, and blocks nothing ---------------------

IMPORT_LINES = {
    "malformed json": b'{"source": ',
    "invalid utf-8": b'{"source": {"kind": "news_article", "title": "\xff"}}',
    "a raw nul byte": b'{"source": {"kind": "news_article\x00", "title": "t"}}',
    "an escaped nul byte": json_bytes(good_doc(title="\x00")),
    "100k nested arrays": b"[" * 100_000,
    "100k nested objects": b'{"a":' * 100_000,
    "an unknown field": json_bytes({**good_doc(), "sneaky": True}),
    "said at in 2056": json_bytes(with_claim(said_at="2056-01-01")),
    "said at in year 0": json_bytes(with_claim(said_at="0000-01-01")),
    "a json array": b"[1, 2, 3]",
    "a 3 MB line": json_bytes(good_doc(title="x" * 3_000_000)),
}


@pytest.mark.parametrize("name", list(IMPORT_LINES))
async def test_a_hostile_import_line_is_reported_and_writes_nothing(
    name: str, hostile: httpx.AsyncClient, loaded: Database
) -> None:
    before = await counts(loaded)
    body = IMPORT_LINES[name] + b"\n"
    response = await hostile.post("/v1/import", content=body, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 200, response.text[:500]
    report = response.json()
    assert (report["created"], report["unchanged"], report["failed"]) == (0, 0, 1)
    assert report["lines"][0]["status"] == "error" and report["lines"][0]["errors"]
    assert_tells_nothing(response.text)
    assert await counts(loaded) == before


# -- GraphQL -------------------------------------------------------------------------------------------


def nested_selection(levels: int) -> str:
    return (
        "{ claims(first: 1) { edges { node { "
        + "location { claims { edges { node { " * levels
        + "id"
        + " } } } }" * levels
        + " } } } }"
    )


def alias_bomb(n: int) -> str:
    return "{ " + " ".join(f"a{i}: claims(first: 100) {{ totalCount }}" for i in range(n)) + " }"


def fragment_chain(n: int) -> str:
    parts = [f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(n)]
    parts.append(f"fragment F{n} on Query {{ topics {{ slug }} }}")
    return "{ ...F0 } " + " ".join(parts)


IMPORT_DOCUMENT = """mutation($d: SourceDocumentInput!) {
  importSource(input: {document: $d}) { created userErrors { field message } }
}"""
GRAPHQL_CASES: dict[str, dict[str, Any] | bytes] = {
    "an alias bomb": {"query": alias_bomb(500)},
    "an alias bomb within tokens": {"query": alias_bomb(40)},
    "a field repeated without aliases": {"query": "{ " + "topics { slug } " * 600 + "}"},
    "a deep selection": {"query": nested_selection(200)},
    "a selection 1000 braces deep": {"query": "{ claims " + "{ edges " * 1000 + "}" * 1001},
    "a list value 1000 deep": {
        "query": "{ claims(filter: {speakers: " + "[" * 1000 + "1" + "]" * 1000 + "}) { totalCount } }"
    },
    "an object value 1000 deep": {
        "query": "{ claims(filter: " + "{search: " * 1000 + '"x"' + "}" * 1000 + ") { totalCount } }"
    },
    "a variable 100k deep": b'{"query": "query($f: ClaimFilter) { claims(filter: $f) { totalCount } }", '
    + b'"variables": {"f": '
    + b'{"speakers": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}}}",
    "a chain of 300 fragments": {"query": fragment_chain(300)},
    "a chain of 60 fragments": {"query": fragment_chain(60)},
    "a cycle of fragments": {"query": "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"},
    "fragments that fan out": {
        "query": "{ ...A } "
        + " ".join(
            f"fragment {c} on Query {{ ...{n} ...{n} }}" for c, n in zip("ABCDEFGHIJ", "BCDEFGHIJK", strict=True)
        )
        + " fragment K on Query { claims(first: 100) { totalCount } }"
    },
    "first of a billion": {"query": "{ claims(first: 1000000000) { edges { node { id } } } }"},
    "first past Int": {"query": "{ claims(first: 99999999999) { edges { node { id } } } }"},
    "first negative": {"query": "{ claims(first: -5) { edges { node { id } } } }"},
    "last of a billion": {"query": "{ claims(last: 1000000000) { edges { node { id } } } }"},
    "first of a billion by variable": {
        "query": "query($n: Int) { claims(first: $n) { edges { node { id } } } }",
        "variables": {"n": 1_000_000_000},
    },
    "first as a float variable": {
        "query": "query($n: Int) { claims(first: $n) { edges { node { id } } } }",
        "variables": {"n": 1e300},
    },
    "first of a billion on nested lists": {
        "query": "{ entities(first: 1000000000) { edges { node { claims(first: 1000000000) { totalCount } } } } }"
    },
    "search first of a billion": {"query": '{ search(query: "merz", first: 1000000000) { __typename } }'},
    "a forged after": {"query": '{ claims(after: "forged") { edges { node { id } } } }'},
    "a base64 after of sql": {"query": f'{{ claims(after: "{b64(chr(39) + " OR 1=1 --|x|1")}") {{ totalCount }} }}'},
    "an after of another ordering": {
        "query": "{ claims(orderBy: SAID_AT_ASC, after: "
        + f'"{b64("-said_at|2025-01-01 00:00:00+00|1")}") {{ totalCount }} }}'
    },
    "an after with a 23 h offset": {
        "query": f'{{ claims(after: "{b64("-said_at|2025-01-01T00:00:00+23:59|1")}") {{ totalCount }} }}'
    },
    "an after with a bigint id": {
        "query": f'{{ claims(after: "{b64("-said_at|2025-01-01 00:00:00+00|" + "9" * 20)}") {{ totalCount }} }}'
    },
    "a forged before": {"query": '{ claims(last: 2, before: "%%%") { edges { node { id } } } }'},
    "a forged entities after": {
        "query": f'{{ entities(after: "{b64("entities|" + "9" * 30 + "|1")}") {{ edges {{ cursor }} }} }}'
    },
    "a relevance after of 1e400": {
        "query": '{ claims(filter: {search: "merz"}, orderBy: RELEVANCE, '
        + f'after: "{b64("relevance|1e400|1")}") {{ totalCount }} }}'
    },
    "a forged sources after": {"query": f'{{ sources(after: "{b64("sources|soon|1")}") {{ edges {{ cursor }} }} }}'},
    "a forged source claims after": {
        "query": f'{{ source(id: "1") {{ claims(after: "{b64("x|y|z")}") {{ totalCount }} }} }}'
    },
    "a forged node id": {"query": '{ node(id: "\' OR 1=1 --") { id } }'},
    "a node id of base64 sql": {"query": f'{{ node(id: "{b64("Claim:1 OR 1=1")}") {{ id }} }}'},
    "a node id past bigint": {"query": f'{{ node(id: "{b64("Claim:99999999999999999999")}") {{ id }} }}'},
    "a claim id of sql": {"query": '{ claim(id: "1; DROP TABLE claim") { id } }'},
    "an entity id with a nul byte": {"query": '{ entity(id: "1\\u0000") { id } }'},
    "nodes of sql": {"query": '{ nodes(ids: ["1 OR 1=1", "\' --", "QWxp"]) { id } }'},
    "sql in search": {"query": '{ claims(filter: {search: "\' OR 1=1; DROP TABLE claim; --"}) { totalCount } }'},
    "sql in entity search": {
        "query": '{ entities(search: "\' UNION SELECT hash FROM api_key --") { edges { node { name } } } }'
    },
    "sql in topics": {"query": '{ claims(filter: {topics: ["\' OR 1=1 --"]}) { totalCount } }'},
    "sql in languages": {"query": '{ claims(filter: {language: ["en\' OR 1=1 --"]}) { totalCount } }'},
    "sql in speakers": {"query": '{ claims(filter: {speakers: ["1 OR 1=1"]}) { totalCount } }'},
    "sql in reportedBy": {"query": '{ claims(filter: {reportedBy: ["1) OR (1=1"]}) { totalCount } }'},
    "sql in a publisher": {"query": '{ sources(publisher: "1 OR 1=1") { edges { cursor } } }'},
    "sql in search()": {"query": '{ search(query: "\'; DROP TABLE entity; --") { __typename } }'},
    "a search of minus signs": {"query": '{ claims(filter: {search: "' + "-" * 400 + '"}) { totalCount } }'},
    "a relevance search of negations": {
        "query": '{ claims(filter: {search: "' + "-(" * 200 + '"}, orderBy: RELEVANCE) { totalCount } }'
    },
    "search() of minus signs": {"query": '{ search(query: "' + "-" * 400 + '") { __typename } }'},
    "a nul byte in search": {"query": '{ claims(filter: {search: "a\\u0000b"}) { totalCount } }'},
    "a nul byte in entity search": {"query": '{ entities(search: "a\\u0000b") { edges { cursor } } }'},
    "a nul byte in search()": {"query": '{ search(query: "a\\u0000b") { __typename } }'},
    "a nul byte in a topic": {"query": '{ claims(filter: {topics: ["a\\u0000b"]}) { totalCount } }'},
    "said after year 0": {"query": '{ claims(filter: {saidAfter: "0000-01-01"}) { totalCount } }'},
    "said before year 99999": {"query": '{ claims(filter: {saidBefore: "99999-01-01T00:00:00Z"}) { totalCount } }'},
    "reported after 30 February": {"query": '{ claims(filter: {reportedAfter: "2025-02-30"}) { totalCount } }'},
    "said after a 24 h offset": {
        "query": '{ claims(filter: {saidAfter: "2025-01-01T00:00:00+24:00"}) { totalCount } }'
    },
    "published after year 1": {
        "query": '{ sources(publishedAfter: "0001-01-01T00:00:00-12:00") { edges { cursor } } }'
    },
    "said after year 9999 east": {
        "query": '{ claims(filter: {saidAfter: "9999-12-31T23:00:00-14:00"}) { totalCount } }'
    },
    "said after year 1 east of greenwich": {
        "query": '{ claims(filter: {saidAfter: "0001-01-01T00:00:00+14:00"}) { totalCount } }'
    },
    "reported before year 9999 west": {
        "query": '{ claims(filter: {reportedBefore: "9999-12-31T23:59:59-14:00"}) { totalCount } }'
    },
    "published before year 9999 west": {
        "query": '{ sources(publishedBefore: "9999-12-31T23:59:59-14:00") { edges { cursor } } }'
    },
    "an after in year 9999 west": {
        "query": f'{{ claims(after: "{b64("-said_at|9999-12-31T23:59:59-12:00|1")}") {{ totalCount }} }}'
    },
    "a sources after in year 1 east": {
        "query": f'{{ sources(after: "{b64("sources|0001-01-01T00:00:00+12:00|1")}") {{ edges {{ cursor }} }} }}'
    },
    "said after as a variable of year 0": {
        "query": "query($d: DateTime) { claims(filter: {saidAfter: $d}) { totalCount } }",
        "variables": {"d": "0000-01-01"},
    },
    "a mutation writing a 2056 claim": {
        "query": IMPORT_DOCUMENT,
        "variables": {"d": graphql_input(with_claim(said_at="2056-01-01"))},
    },
    "a mutation writing year 0": {
        "query": IMPORT_DOCUMENT,
        "variables": {"d": graphql_input(good_doc(published_at="0000-01-01"))},
    },
    "a mutation writing nested json": {
        "query": IMPORT_DOCUMENT,
        "variables": {"d": {"source": orjson.loads(b"[" * 500 + b"]" * 500)}},
    },
    "a mutation with an unknown field": {
        "query": IMPORT_DOCUMENT,
        "variables": {"d": graphql_input({**good_doc(), "sneaky": 1})},
    },
    "a mutation with a nul byte": {
        "query": IMPORT_DOCUMENT,
        "variables": {"d": graphql_input(good_doc(title="\x00"))},
    },
    "an update to 2056": {
        "query": 'mutation { updateClaim(input: {id: "1", saidAt: "2056-01-01"}) { userErrors { field message } } }'
    },
    "an update with a nul byte": {
        "query": 'mutation { updateClaim(input: {id: "1", content: "a\\u0000b"}) { userErrors { field message } } }'
    },
    "an update to an id of sql": {
        "query": 'mutation { updateClaim(input: {id: "1 OR 1=1", content: "x"}) { userErrors { field message } } }'
    },
    "a createClaim in year 99999": {
        "query": "mutation($c: ClaimInput!) { "
        'createClaim(input: {claim: $c, sourceId: "1"}) { created userErrors { message } } }',
        "variables": {"c": graphql_input(quote("new", said_at="99999-01-01"))},
    },
    "an unknown argument": {"query": "{ claims(limit: 5) { totalCount } }"},
    "an unknown field": {"query": "{ claims { secret } }"},
    "a query that is not a string": {"query": 12},
    "variables that are a list": {"query": "{ topics { slug } }", "variables": [1]},
    "an operation name that is a number": {"query": "{ topics { slug } }", "operationName": 5},
    "a missing operation": {"query": "query A { topics { slug } } query B { topics { slug } }", "operationName": "C"},
    "a body that is a list": b"[]",
    "a body that is not json": b"{query: ",
    "a body of invalid utf-8": b'{"query": "{ topics { slug } }\xff"}',
    "a body of 100k arrays": b"[" * 100_000,
    "a query with a raw nul": b'{"query": "{ topics\x00 { slug } }"}',
    "a query with an escaped nul": {"query": "{ topics\x00 { slug } }"},
    "a subscription over http": {"query": "subscription { claimAdded { id } }"},
}


def gql_request(value: dict[str, Any] | bytes) -> dict[str, Any]:
    content = value if isinstance(value, bytes) else json_bytes(value)
    return {"content": content, "headers": {"content-type": "application/json"}}


def assert_a_graphql_refusal(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert_tells_nothing(response.text)
    if response.headers["content-type"].startswith(PROBLEM):
        assert response.status_code >= 400
        return
    body = response.json()
    if body.get("errors"):
        return
    # A request that is legal (a huge `first:` is capped, a forged id finds nothing) answers with data
    # and no error; it still wrote nothing and leaked nothing (checked by the caller).
    assert response.status_code == 200 and body.get("data") is not None, response.text[:500]


@pytest.mark.parametrize("name", list(GRAPHQL_CASES))
async def test_hostile_graphql_requests_are_refused_without_writing(
    name: str, hostile: httpx.AsyncClient, loaded: Database
) -> None:
    before = await counts(loaded)
    response = await hostile.post("/graphql", **gql_request(GRAPHQL_CASES[name]))
    assert await counts(loaded) == before
    assert_a_graphql_refusal(response)
    body = response.json()
    if name.startswith(("an alias bomb", "a deep selection", "a selection 1000", "a chain of 300")):
        assert body.get("errors") and body.get("data") is None, response.text[:500]
    if name.startswith(("a mutation", "an update", "a createClaim")):
        payload = next(iter((body.get("data") or {}).values()), None) or {}
        assert body.get("errors") or payload.get("userErrors"), response.text[:500]
        assert not payload.get("created")
    if "first of a billion" in name and not body.get("errors"):
        # Capped, not obeyed: the page is no larger than the demo holds and the maximum page size.
        edges = body["data"]["claims"]["edges"] if "claims" in body["data"] else []
        assert len(edges) <= 100


@pytest.mark.parametrize(
    "query",
    [
        "{ claims(first: 1000000000) { edges { node { id } } } }",
        '{ claims(filter: {search: "\' OR 1=1 --"}) { totalCount } }',
        "{ claims(first: 5) { edges { node { id } } } }",
    ],
)
async def test_hostile_graphql_variables_over_get_are_refused(
    query: str, hostile: httpx.AsyncClient, loaded: Database
) -> None:
    before = await counts(loaded)
    response = await hostile.get("/graphql", params={"query": query, "variables": "[" * 5_000})
    assert response.status_code == 400, response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM)
    assert await counts(loaded) == before


async def test_a_mutation_over_get_writes_nothing(hostile: httpx.AsyncClient, loaded: Database) -> None:
    before = await counts(loaded)
    query = 'mutation { deleteClaim(input: {id: "1"}) { deletedClaimId } }'
    response = await hostile.get("/graphql", params={"query": query})
    assert 400 <= response.status_code < 500
    assert await counts(loaded) == before


# -- introspection, when it is off ---------------------------------------------------------------------


@pytest.fixture(scope="module")
async def closed(loaded: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An app with `CLAIMS_GRAPHQL_INTROSPECTION=false`."""
    settings = Settings(load_demo=False, rate_limit_per_minute=0, graphql_introspection=False)
    app = create_app(settings, database=loaded)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


INTROSPECTION = {
    "the schema": "{ __schema { types { name fields { name } } } }",
    "one type": '{ __type(name: "Claim") { name fields { name } } }',
    "the schema under an alias": "{ s: __schema { queryType { name } } }",
    "the schema in a fragment": "{ ...F } fragment F on Query { __schema { types { name } } }",
    "the schema in an inline fragment": "{ ... on Query { __schema { types { name } } } }",
    "a type nested in a query": '{ claims(first: 1) { edges { node { id } } } __type(name: "Entity") { name } }',
    "graphiql's full query": "query IntrospectionQuery { __schema { queryType { name } mutationType { name } "
    "types { kind name fields(includeDeprecated: true) { name args { name } } } directives { name } } }",
    "a mutation's type": '{ __type(name: "Mutation") { fields { name } } }',
}


@pytest.mark.parametrize("name", list(INTROSPECTION))
async def test_introspection_is_refused_when_it_is_off(name: str, closed: httpx.AsyncClient) -> None:
    for response in (
        await closed.post("/graphql", json={"query": INTROSPECTION[name]}),
        await closed.get("/graphql", params={"query": INTROSPECTION[name]}),
    ):
        assert response.status_code < 500
        body = response.json()
        assert body.get("errors"), response.text[:500]
        assert not body.get("data"), response.text[:500]
        assert "introspection" in response.text.lower()
        assert_tells_nothing(response.text)
        assert "queryType" not in response.text.replace(INTROSPECTION[name], "") or "queryType" in INTROSPECTION[name]
        assert "ClaimConnection" not in response.text and "OBJECT" not in response.text


async def test_typename_still_answers_when_introspection_is_off(closed: httpx.AsyncClient) -> None:
    response = await closed.post("/graphql", json={"query": "{ topics { __typename } }"})
    assert response.status_code == 200 and "errors" not in response.json()
