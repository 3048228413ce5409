"""GraphQL over HTTP: media types and status codes, persisted queries, trusted documents, and what a
server with introspection off keeps to itself."""

from __future__ import annotations

import hashlib
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api.app import create_app
from api.settings import Settings
from db.database import Database
from db.demo_data import load_demo
from tests import helpers

GRAPHQL_RESPONSE = "application/graphql-response+json"
FEED = "query Feed { claims(first: 2) { edges { node { content } } } }"
CREATE_ONE = """mutation { createClaim(input: {sourceId: "1", claim: {content: "A new one.", saidAt: "2025-11-27",
  speakers: [{entity: {name: "Keir Starmer"}}]}}) { created } }"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str | None, digest: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}, **extra}
    if text is not None:
        body["query"] = text
    return body


def serve(db: Database, settings: Settings) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return helpers.serve(db, settings, routes=lambda app: None)


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


# -- request errors: 200 for application/json ----------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ claims(first: 2) {", "GRAPHQL_PARSE_FAILED"),
        ("{ claims { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ("query A { topics { slug } } query B { topics { slug } }", "OPERATION_RESOLUTION_FAILURE"),
        ("{ " + " ".join(f"a{i}: topics {{ slug }}" for i in range(40)) + " }", "ALIAS_LIMIT"),
    ],
)
async def test_a_request_error_is_a_200_for_application_json(
    query: str, code: str, client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.post("/graphql", json={"query": query}, headers={"accept": "application/json"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert "data" not in response.json() and codes(response) == [code]


@pytest.mark.parametrize("body", [{"variables": 0}, {"variables": []}, {"extensions": "x"}, {"extensions": False}])
async def test_variables_or_extensions_that_are_not_objects_are_a_400(
    body: dict[str, Any], client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.post("/graphql", json={"query": "{ topics { slug } }", **body})
    assert response.status_code == 400 and codes(response) == ["BAD_REQUEST"]


async def test_a_subscription_over_http_is_refused_with_a_400_naming_the_websocket(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.post("/graphql", json={"query": "subscription { claimAdded { id } }"})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert "websocket" in error["message"] and error["extensions"]["code"] == "BAD_REQUEST"


# -- application/graphql-response+json: status codes that say what went wrong ---------------------


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ claims(first: 2) {", {}, "GRAPHQL_PARSE_FAILED"),
        ("{ claims { nope } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int) { claims(first: $n) { totalCount } }", {"n": "two"}, "BAD_USER_INPUT"),
        ("query A { topics { slug } } query B { topics { slug } }", {}, "OPERATION_RESOLUTION_FAILURE"),
    ],
)
async def test_a_request_error_is_a_400_for_graphql_response_json(
    query: str, variables: dict[str, Any], code: str, client: httpx.AsyncClient, db: Database
) -> None:
    accept = f"{GRAPHQL_RESPONSE}, application/json;q=0.9"
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers={"accept": accept})
    assert response.status_code == 400 and response.headers["content-type"] == GRAPHQL_RESPONSE
    assert "data" not in response.json() and codes(response) == [code]


async def test_an_executed_request_is_a_200_for_graphql_response_json_even_with_field_errors(
    client: httpx.AsyncClient, db: Database
) -> None:
    await load_demo(db)
    headers = {"accept": GRAPHQL_RESPONSE}
    ok = await client.post("/graphql", json={"query": FEED}, headers=headers)
    assert ok.status_code == 200 and ok.headers["content-type"] == GRAPHQL_RESPONSE
    refused = await client.post("/graphql", json={"query": '{ claims(after: "x") { totalCount } }'}, headers=headers)
    assert refused.status_code == 200 and refused.json()["data"] is None and codes(refused) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json"),
        ("text/csv", None),
        (f"{GRAPHQL_RESPONSE};q=0, application/json;q=0", None),
    ],
)
async def test_accept_chooses_the_media_type(
    accept: str | None, media_type: str | None, client: httpx.AsyncClient, db: Database
) -> None:
    headers = {"accept": accept} if accept is not None else {}
    request = client.build_request("POST", "/graphql", json={"query": "{ topics { slug } }"}, headers=headers)
    if accept is None:
        del request.headers["accept"]
    response = await client.send(request)
    if media_type is None:
        assert response.status_code == 406 and response.headers["content-type"] == "application/problem+json"
    else:
        assert response.status_code == 200 and response.headers["content-type"] == media_type


# -- GET: queries only, cached like REST -------------------------------------------------------------


async def test_a_query_over_get_has_an_etag_and_answers_304_when_it_matches(
    client: httpx.AsyncClient, db: Database
) -> None:
    await load_demo(db)
    first = await client.get("/graphql", params={"query": FEED})
    assert first.status_code == 200 and first.headers["cache-control"] == "public, max-age=30"
    etag = first.headers["etag"]
    again = await client.get("/graphql", params={"query": FEED}, headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = await client.get("/graphql", params={"query": FEED}, headers={"accept": GRAPHQL_RESPONSE})
    assert other.headers["content-type"] == GRAPHQL_RESPONSE and other.headers["vary"] == "Accept"
    await client.post("/graphql", json={"query": CREATE_ONE})
    changed = await client.get("/graphql", params={"query": FEED}, headers={"if-none-match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag

    failed = await client.get("/graphql", params={"query": '{ claims(after: "x") { totalCount } }'})
    assert failed.json()["errors"] and failed.headers["cache-control"] == "no-store" and "etag" not in failed.headers
    posted = await client.post("/graphql", json={"query": FEED})
    assert posted.headers["cache-control"] == "no-store" and "etag" not in posted.headers


async def test_a_mutation_over_get_is_a_405_allowing_post(client: httpx.AsyncClient, db: Database) -> None:
    response = await client.get(
        "/graphql", params={"query": 'mutation { deleteClaim(input: {id: "1"}) { deletedClaimId } }'}
    )
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    other = await client.put("/graphql", json={"query": "{ topics { slug } }"})
    assert other.status_code == 405 and other.headers["allow"] == "GET, HEAD, OPTIONS, POST"  # the path's methods


async def test_a_persisted_query_runs_over_get(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    extensions = orjson.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha(FEED)}}).decode()
    unknown = await client.get("/graphql", params={"extensions": extensions})
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    await client.get("/graphql", params={"query": FEED, "extensions": extensions})
    by_hash = await client.get("/graphql", params={"extensions": extensions})
    assert by_hash.status_code == 200 and len(by_hash.json()["data"]["claims"]["edges"]) == 2
    assert by_hash.headers["etag"]


# -- the SDL -------------------------------------------------------------------------------------------

SDL = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"


@pytest.mark.parametrize("introspection", [True, False])
async def test_the_sdl_is_served_whether_or_not_introspection_is_on(
    introspection: bool, db: Database, settings: Settings
) -> None:
    async with serve(db, replace(settings, graphql_introspection=introspection)) as http:
        response = await http.get("/graphql/schema.graphql")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        assert response.text == SDL.read_text()
        again = await http.get("/graphql/schema.graphql", headers={"if-none-match": response.headers["etag"]})
        assert again.status_code == 304
        introspect = await http.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        assert ("errors" in introspect.json()) is not introspection


# -- automatic persisted queries -----------------------------------------------------------------


async def test_an_unknown_hash_asks_for_the_text_and_then_the_hash_alone_runs(
    client: httpx.AsyncClient, db: Database
) -> None:
    await load_demo(db)
    digest = sha(FEED)
    unknown = await client.post("/graphql", json=apq(None, digest))
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]

    registered = await client.post("/graphql", json=apq(FEED, digest))
    assert registered.status_code == 200 and len(registered.json()["data"]["claims"]["edges"]) == 2
    by_hash = await client.post("/graphql", json=apq(None, digest))
    assert by_hash.status_code == 200 and by_hash.json() == registered.json()


async def test_a_hash_that_is_not_the_texts_is_a_400_and_registers_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    forged = await client.post("/graphql", json=apq("{ topics { slug } }", sha(FEED)))
    assert forged.status_code == 400 and forged.json()["errors"][0]["message"] == "provided sha does not match query"
    assert codes(await client.post("/graphql", json=apq(None, sha(FEED)))) == ["PERSISTED_QUERY_NOT_FOUND"]
    version = await client.post("/graphql", json={"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "a"}}})
    assert version.status_code == 400 and codes(version) == ["BAD_REQUEST"]


# -- trusted documents -----------------------------------------------------------------------------


async def test_with_trusted_documents_only_the_listed_ones_run(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await load_demo(db)
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_bytes(orjson.dumps({sha(FEED): FEED}))
    async with serve(db, replace(settings, graphql_trusted_documents=str(manifest))) as http:
        by_id = await http.post("/graphql", json={"documentId": f"sha256:{sha(FEED)}"})
        assert by_id.status_code == 200 and len(by_id.json()["data"]["claims"]["edges"]) == 2
        assert (await http.post("/graphql", json=apq(None, sha(FEED)))).json() == by_id.json()
        assert (await http.post("/graphql", json={"query": FEED})).json() == by_id.json()

        other = "{ topics { slug } }"
        for body in ({"query": other}, apq(other, sha(other))):
            refused = await http.post("/graphql", json=body)
            assert refused.status_code == 200 and codes(refused) == ["PERSISTED_QUERY_NOT_IN_LIST"]
        unknown = await http.post("/graphql", json={"documentId": f"sha256:{sha(other)}"})
        assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_a_manifest_whose_hashes_are_not_its_documents_stops_the_start(settings: Settings, tmp_path: Path) -> None:
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_bytes(orjson.dumps({sha("{ topics { slug } }"): FEED}))
    with pytest.raises(ValueError, match="is not the sha256 of its document"):
        create_app(replace(settings, graphql_trusted_documents=str(manifest)))


# -- introspection off -----------------------------------------------------------------------------


async def test_with_introspection_off_errors_suggest_no_names(db: Database, settings: Settings) -> None:
    queries = [
        "{ claims { edges { node { contnt } } } }",  # a field
        "{ claims(orderBy: SAID_AT_DES) { totalCount } }",  # an enum value
        "{ claims(fist: 2) { totalCount } }",  # an argument
        "{ claims(filter: {speaker: []}) { totalCount } }",  # an input field
        "{ claims { edges { node { ... on Claimm { id } } } } }",  # a type
    ]
    variables = ("query($o: ClaimOrder!) { claims(orderBy: $o) { totalCount } }", {"o": "SAID_AT_DES"})
    async with serve(db, replace(settings, graphql_introspection=False)) as hidden, serve(db, settings) as shown:
        for query, values in [*((q, {}) for q in queries), variables]:
            body = {"query": query, "variables": values}
            assert "Did you mean" in (await shown.post("/graphql", json=body)).text, query
            said = (await hidden.post("/graphql", json=body)).json()["errors"]
            assert said and not any("Did you mean" in e["message"] for e in said), said


async def test_with_introspection_off_the_schemas_own_errors_suggest_no_names(settings: Settings) -> None:
    """The websocket's subscriptions are validated by Strawberry itself, not by the executor."""
    from api.graphql import build

    schema, _ = build(replace(settings, graphql_introspection=False))
    for query in ("subscription { claimAdded { contnt } }", "subscription { claimAdded(filter: {kin: []}) { id } }"):
        result = await schema.execute(query)
        assert result.errors and not any("Did you mean" in e.message for e in result.errors), result.errors
