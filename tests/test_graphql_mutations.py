"""GraphQL mutations through POST /graphql: writes, userErrors for input problems, scopes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.database import Database
from schema.graphql.inputs import camel
from schema.graphql.mutations import path_of
from tests.rest_helpers import MERZ, STARMER, document, graphql_input, quote, write

IMPORT = """
mutation($doc: SourceDocumentInput!) {
  importSource(input: {document: $doc}) {
    created
    source { id title publisher { name } }
    claims { id content speakers { entity { name } } }
    userErrors { field message code }
  }
}"""
CREATE = """
mutation($input: CreateClaimInput!) {
  createClaim(input: $input) { created version claim { id content } userErrors { field message code } }
}"""
UPDATE = """
mutation($input: UpdateClaimInput!) {
  updateClaim(input: $input) {
    version
    claim { id content kind language topics { slug } }
    userErrors { field message code }
  }
}"""
DELETE = """
mutation($input: DeleteClaimInput!) {
  deleteClaim(input: $input) { deletedClaimId userErrors { field message code } }
}"""
MERGE = """
mutation($input: MergeEntitiesInput!) {
  mergeEntities(input: $input) {
    mergedEntityId
    entity { id name aliases claims { edges { node { content } } } }
    userErrors { field message code }
  }
}"""


async def gql(client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None, **variables: Any) -> Any:
    """POST ``query``; variables in REST's shape (snake_case…) are sent as GraphQL's typed inputs."""
    body = {"query": query, "variables": graphql_input(variables)}
    response = await client.post("/graphql", json=body, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


async def data(client: httpx.AsyncClient, query: str, **variables: Any) -> Any:
    body = await gql(client, query, **variables)
    assert "errors" not in body, body
    return body["data"]


async def counts(db: Database) -> tuple[int, int, int]:
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM claim), (SELECT count(*) FROM source), (SELECT count(*) FROM entity)"
    )
    assert row is not None
    return row[0], row[1], row[2]


# -- importSource ------------------------------------------------------------------------------


async def test_importing_the_same_document_twice_creates_nothing_the_second_time(
    client: httpx.AsyncClient, db: Database
) -> None:
    doc = document("https://example.org/a", quote("Security guarantees must be robust."))
    first = (await data(client, IMPORT, doc=doc))["importSource"]
    assert first["created"] is True and first["userErrors"] == []
    assert first["source"]["publisher"]["name"] == "TASS"
    assert [c["content"] for c in first["claims"]] == ["Security guarantees must be robust."]
    assert first["claims"][0]["speakers"][0]["entity"]["name"] == "Friedrich Merz"
    before = await counts(db)

    second = (await data(client, IMPORT, doc=doc))["importSource"]
    assert second["created"] is False and second["userErrors"] == []
    assert second["claims"][0]["id"] == first["claims"][0]["id"]
    assert second["source"]["id"] == first["source"]["id"]
    assert await counts(db) == before


async def test_an_invalid_document_answers_user_errors_with_field_paths_and_writes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    doc = document("https://example.org/a", quote("Fine."), {"content": "", "speakers": []})
    result = await gql(client, IMPORT, doc=doc)
    assert "errors" not in result
    payload = result["data"]["importSource"]
    assert payload["created"] is False and payload["source"] is None and payload["claims"] is None
    fields = {tuple(e["field"]) for e in payload["userErrors"]}
    assert ("input", "document", "claims", "1", "content") in fields
    assert ("input", "document", "claims", "1", "speakers") in fields
    assert {e["code"] for e in payload["userErrors"]} == {"INVALID"}
    assert all("Fine." not in e["message"] for e in payload["userErrors"])
    assert await counts(db) == (0, 0, 0)


async def test_a_document_naming_a_missing_entity_id_is_a_not_found_user_error(
    client: httpx.AsyncClient, db: Database
) -> None:
    doc = document("https://example.org/a", quote("Fine."), quote("Who?", {"id": 999}))
    payload = (await data(client, IMPORT, doc=doc))["importSource"]
    assert payload["userErrors"] == [
        {
            "field": ["input", "document", "claims", "1", "speakers", "0", "entity", "id"],
            "message": "no entity with id 999",
            "code": "NOT_FOUND",
        }
    ]
    assert await counts(db) == (0, 0, 0)  # the first claim was rolled back with the rest


async def test_a_document_missing_what_its_type_requires_is_refused_before_anything_runs(
    client: httpx.AsyncClient, db: Database
) -> None:
    doc = document("https://example.org/a", quote("Fine."))
    del doc["claims"][0]["content"]
    body = await gql(client, IMPORT, doc=doc)
    assert body.get("data") is None
    message = body["errors"][0]["message"]
    assert "'$doc'" in message and "at .claims[0]" in message and "required field 'content'" in message
    assert await counts(db) == (0, 0, 0)


# -- createClaim -------------------------------------------------------------------------------


async def test_creating_a_claim_in_a_known_source_and_again_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    written = await write(db, document("https://example.org/a", quote("First.")))
    source_id = str(written.source_id)
    claim = {"content": "Second.", "speakers": [{"entity": STARMER}]}
    first = (await data(client, CREATE, input={"sourceId": source_id, "claim": claim}))["createClaim"]
    assert first["userErrors"] == [] and first["created"] is True and first["version"] == 1
    assert first["claim"]["content"] == "Second."
    again = (await data(client, CREATE, input={"sourceId": source_id, "claim": claim}))["createClaim"]
    assert again["created"] is False and again["claim"]["id"] == first["claim"]["id"]


async def test_creating_a_claim_with_a_bad_claim_or_source_is_a_user_error(client: httpx.AsyncClient) -> None:
    speaker = [{"entity": STARMER}]
    missing = await data(client, CREATE, input={"sourceId": "1", "claim": {"content": "x", "speakers": speaker}})
    assert missing["createClaim"]["claim"] is None
    assert missing["createClaim"]["userErrors"][0]["field"] == ["input", "sourceId"]
    assert missing["createClaim"]["userErrors"][0]["code"] == "NOT_FOUND"
    source = {"kind": "news_article", "url": "https://example.org/b"}
    no_speakers = await data(client, CREATE, input={"source": source, "claim": {"content": "x", "speakers": []}})
    assert no_speakers["createClaim"]["userErrors"][0]["field"] == ["input", "claim", "speakers"]
    claim = {"content": "x", "speakers": speaker}
    both = (await data(client, CREATE, input={"source": source, "sourceId": "1", "claim": claim}))["createClaim"]
    assert both["userErrors"][0]["field"] == ["input"]
    no_title = {"kind": "news_article", "publisher": {"name": "Nobody"}}
    untitled = (await data(client, CREATE, input={"source": no_title, "claim": claim}))["createClaim"]
    assert untitled["userErrors"] == [
        {"field": ["input", "source"], "message": "Value error, a source needs a url or a title", "code": "INVALID"}
    ]


# -- typed inputs: REST's rules, REST's paths -------------------------------------------------------

FAULTS: dict[str, Any] = {
    "a blank claim": quote("   "),
    "a claim said in 2056": quote("Later.", said_at="2056-01-01"),
    "a date that is a number": quote("When?", said_at="20251125"),
    "a language that is not one": quote("Hello.", language="not a language"),
    "a precision without a date": quote("When?", said_at=None, said_at_precision="day"),
    "a topic that is no slug": quote("Topics.", topics=["Not A Slug"]),
    "a nameless speaker": quote("Who?", {"kind": "person"}),
    "a bad wikidata id": quote("Who?", {"name": "Someone", "external_ids": {"wikidata": "X1"}}),
    "a role ending before it starts": quote(
        "Who?", {"name": "Someone", "roles": [{"title": "Mayor", "start": "2020-01-02", "end": "2020-01-01"}]}
    ),
    "a span ending before it starts": quote("Where?", appearance={"quote": "Where?", "span": [5, 2]}),
    "a cited source without url or title": quote(
        "Cited.", appearance={"quote": "x", "cited_source": {"kind": "other"}}
    ),
    "a relation to two claims": quote("Related.", relations=[{"kind": "repeats", "claim_id": 1, "claim_index": 0}]),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_typed_input_breaks_the_same_rule_at_the_same_path_as_over_rest(
    fault: str, client: httpx.AsyncClient, db: Database
) -> None:
    doc = document("https://example.org/a", quote("Fine."), FAULTS[fault])
    rest = await client.post("/v1/sources", json=doc)
    assert rest.status_code == 422, rest.text
    expected = [
        (["input", "document", *[camel(p) for p in path_of(e["field"].removeprefix("body."))]], e["message"])
        for e in rest.json()["errors"]
    ]
    payload = (await data(client, IMPORT, doc=doc))["importSource"]
    assert [(e["field"], e["message"]) for e in payload["userErrors"]] == expected
    assert payload["source"] is None and await counts(db) == (0, 0, 0)


async def test_external_ids_are_named_by_their_position_in_the_list(client: httpx.AsyncClient, db: Database) -> None:
    someone = {"name": "Someone", "external_ids": {"wikidata": "Q1", "Bad Scheme": "x"}}
    payload = await data(client, IMPORT, doc=document("https://example.org/a", quote("Who?", someone)))
    fields = [e["field"] for e in payload["importSource"]["userErrors"]]
    assert fields == [["input", "document", "claims", "0", "speakers", "0", "entity", "externalIds", "1", "scheme"]]
    twice = {"name": "Someone", "kind": "person"}
    doc = graphql_input(document("https://example.org/a", quote("Who?", twice)))
    doc["claims"][0]["speakers"][0]["entity"]["externalIds"] = [
        {"scheme": "wikidata", "value": "Q1"},
        {"scheme": "wikidata", "value": "Q2"},
    ]
    body = await client.post("/graphql", json={"query": IMPORT, "variables": {"doc": doc}})
    errors = body.json()["data"]["importSource"]["userErrors"]
    assert errors == [
        {
            "field": ["input", "document", "claims", "0", "speakers", "0", "entity", "externalIds", "1", "scheme"],
            "message": "'wikidata' is given twice",
            "code": "INVALID",
        }
    ]
    assert await counts(db) == (0, 0, 0)


@pytest.mark.parametrize("digits", ["¹", "②", "٣"])
async def test_ids_inside_typed_inputs_are_ascii_digits_or_global_ids(
    digits: str, client: httpx.AsyncClient, db: Database
) -> None:
    someone = {"id": digits}
    related = {"kind": "repeats", "claim_id": digits}
    doc = document("https://example.org/a", quote("Who?", someone), quote("Again.", relations=[related]))
    payload = (await data(client, IMPORT, doc=doc))["importSource"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "document", "claims", "0", "speakers", "0", "entity", "id"], "INVALID"),
        (["input", "document", "claims", "1", "relations", "0", "claimId"], "INVALID"),
    ]
    assert all("is not a valid id" in e["message"] for e in payload["userErrors"])
    assert await counts(db) == (0, 0, 0)


async def test_a_date_keeps_day_precision_and_a_date_time_is_an_instant(
    client: httpx.AsyncClient, db: Database
) -> None:
    written = await write(db, document("https://example.org/a", quote("Original wording.")))
    claim_id = str(written.claims[0].id)
    read = "query($id: ID!) { claim(id: $id) { saidAt saidAtPrecision } }"
    await data(client, UPDATE, input={"id": claim_id, "said_at": "2025-11-20"})
    assert (await data(client, read, id=claim_id))["claim"]["saidAtPrecision"] == "DAY"
    await data(client, UPDATE, input={"id": claim_id, "said_at": "2025-11-20T10:00:00Z"})
    assert (await data(client, read, id=claim_id))["claim"] == {
        "saidAt": "2025-11-20T10:00:00+00:00",
        "saidAtPrecision": "INSTANT",
    }
    claim = {"content": "New.", "speakers": [{"entity": STARMER}], "said_at": "2025-11-21"}
    created = (await data(client, CREATE, input={"sourceId": str(written.source_id), "claim": claim}))["createClaim"]
    assert (await data(client, read, id=created["claim"]["id"]))["claim"]["saidAtPrecision"] == "DAY"


# -- updateClaim -------------------------------------------------------------------------------


async def _one_claim(db: Database) -> str:
    written = await write(db, document("https://example.org/a", quote("Original wording.")))
    return str(written.claims[0].id)


async def test_updating_a_claim_changes_it_and_bumps_its_version(client: httpx.AsyncClient, db: Database) -> None:
    claim_id = await _one_claim(db)
    changes = {
        "id": claim_id,
        "expectedVersion": 1,
        "content": "Revised wording.",
        "kind": "PARAPHRASE",
        "topics": ["ukraine-crisis"],
    }
    payload = (await data(client, UPDATE, input=changes))["updateClaim"]
    assert payload["userErrors"] == [] and payload["version"] == 2
    claim = payload["claim"]
    assert (claim["content"], claim["kind"], claim["topics"]) == (
        "Revised wording.",
        "PARAPHRASE",
        [{"slug": "ukraine-crisis"}],
    )
    cleared = (await data(client, UPDATE, input={"id": claim_id, "language": None, "topics": None}))["updateClaim"]
    assert cleared["claim"]["language"] is None and cleared["claim"]["topics"] == []
    assert cleared["version"] == 3


async def test_updating_with_a_stale_version_is_a_stale_user_error_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    claim_id = await _one_claim(db)
    await data(client, UPDATE, input={"id": claim_id, "expectedVersion": 1, "kind": "PARAPHRASE"})
    stale = await data(client, UPDATE, input={"id": claim_id, "expectedVersion": 1, "content": "Mine."})
    payload = stale["updateClaim"]
    assert payload["claim"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "expectedVersion"],
            "message": "the claim is at version 2, not 1; read it again",
            "code": "STALE",
        }
    ]
    assert await db.fetchval("SELECT content FROM claim WHERE id = $1", int(claim_id)) == "Original wording."


async def test_updating_with_invalid_values_names_the_graphql_field(client: httpx.AsyncClient, db: Database) -> None:
    claim_id = await _one_claim(db)
    payload = (await data(client, UPDATE, input={"id": claim_id, "language": "not a language"}))["updateClaim"]
    assert payload["userErrors"][0]["field"] == ["input", "language"]
    missing = (await data(client, UPDATE, input={"id": "999", "kind": "PARAPHRASE"}))["updateClaim"]
    assert missing["userErrors"][0]["code"] == "NOT_FOUND"
    forged = (await data(client, UPDATE, input={"id": "not-an-id", "kind": "PARAPHRASE"}))["updateClaim"]
    assert forged["userErrors"][0]["field"] == ["input", "id"]
    assert forged["userErrors"][0]["code"] == "INVALID"


async def test_changing_content_to_another_claims_is_a_conflict(client: httpx.AsyncClient, db: Database) -> None:
    written = await write(db, document("https://example.org/a", quote("One."), quote("Two.")))
    payload = (await data(client, UPDATE, input={"id": str(written.claims[1].id), "content": "One."}))["updateClaim"]
    assert payload["userErrors"][0]["code"] == "CONFLICT"
    assert payload["userErrors"][0]["field"] == ["input", "content"]


# -- deleteClaim -------------------------------------------------------------------------------


async def test_a_deleted_claim_is_gone_from_queries(client: httpx.AsyncClient, db: Database) -> None:
    claim_id = await _one_claim(db)
    payload = (await data(client, DELETE, input={"id": claim_id, "reason": "duplicate"}))["deleteClaim"]
    assert payload["userErrors"] == [] and payload["deletedClaimId"]
    read = await data(client, "query($id: ID!) { claim(id: $id) { content } }", id=payload["deletedClaimId"])
    assert read["claim"] is None
    feed = await data(client, "{ claims { edges { node { id } } } }")
    assert feed["claims"]["edges"] == []
    assert await db.fetchval("SELECT reason FROM claim_deletion WHERE claim_id = $1", int(claim_id)) == "duplicate"
    again = (await data(client, DELETE, input={"id": claim_id}))["deleteClaim"]
    assert again["userErrors"] == [] and again["deletedClaimId"] == payload["deletedClaimId"]
    updated = (await data(client, UPDATE, input={"id": claim_id, "kind": "PARAPHRASE"}))["updateClaim"]
    assert updated["userErrors"][0]["code"] == "DELETED"


# -- mergeEntities -----------------------------------------------------------------------------


async def test_merging_entities_moves_aliases_and_claims(client: httpx.AsyncClient, db: Database) -> None:
    duplicate = {"name": "F. Merz", "kind": "person", "aliases": ["Fritz Merz"]}
    await write(db, document("https://example.org/a", quote("From the original.", MERZ)))
    await write(db, document("https://example.org/b", quote("From the duplicate.", duplicate)))
    ids = {r["name"]: str(r["id"]) for r in await db.fetch("SELECT id, name FROM entity WHERE kind = 'person'")}
    payload = (await data(client, MERGE, input={"sourceId": ids["F. Merz"], "targetId": ids["Friedrich Merz"]}))[
        "mergeEntities"
    ]
    assert payload["userErrors"] == []
    entity = payload["entity"]
    assert entity["name"] == "Friedrich Merz"
    assert {"F. Merz", "Fritz Merz", "Merz"} <= set(entity["aliases"])
    contents = {e["node"]["content"] for e in entity["claims"]["edges"]}
    assert contents == {"From the original.", "From the duplicate."}
    again = await data(client, MERGE, input={"sourceId": ids["F. Merz"], "targetId": ids["Friedrich Merz"]})
    assert again["mergeEntities"]["userErrors"] == [] and again["mergeEntities"]["entity"]["id"] == entity["id"]
    itself = {"sourceId": ids["Friedrich Merz"], "targetId": ids["Friedrich Merz"]}
    assert (await data(client, MERGE, input=itself))["mergeEntities"]["userErrors"] == [
        {"field": ["input", "targetId"], "message": "an entity cannot be merged into itself", "code": "INVALID"}
    ]


async def test_merging_a_missing_entity_is_a_not_found_user_error(client: httpx.AsyncClient, db: Database) -> None:
    await write(db, document("https://example.org/a", quote("Hello.")))
    target = str(await db.fetchval("SELECT id FROM entity WHERE name = 'Friedrich Merz'"))
    payload = (await data(client, MERGE, input={"sourceId": "999", "targetId": target}))["mergeEntities"]
    assert payload["userErrors"] == [
        {"field": ["input", "sourceId"], "message": "no entity with id 999", "code": "NOT_FOUND"}
    ]
    into_missing = (await data(client, MERGE, input={"sourceId": target, "targetId": "999"}))["mergeEntities"]
    assert into_missing["userErrors"][0]["field"] == ["input", "targetId"]
    assert into_missing["userErrors"][0]["code"] == "NOT_FOUND"


async def test_merging_an_entity_merged_elsewhere_is_a_conflict_user_error(
    client: httpx.AsyncClient, db: Database
) -> None:
    await write(db, document("https://example.org/a", quote("One.", MERZ), quote("Two.", STARMER)))
    await write(db, document("https://example.org/b", quote("Three.", {"name": "Someone Else"})))
    ids = {r["name"]: str(r["id"]) for r in await db.fetch("SELECT id, name FROM entity")}
    merz, starmer, other = ids["Friedrich Merz"], ids["Keir Starmer"], ids["Someone Else"]
    merged = (await data(client, MERGE, input={"sourceId": merz, "targetId": starmer}))["mergeEntities"]
    assert merged["userErrors"] == []
    payload = (await data(client, MERGE, input={"sourceId": merz, "targetId": other}))["mergeEntities"]
    assert payload["userErrors"] == [
        {
            "field": ["input", "sourceId"],
            "message": f"entity {merz} was already merged into {starmer}",
            "code": "CONFLICT",
        }
    ]


# -- authorisation -----------------------------------------------------------------------------


async def test_writing_without_a_key_is_unauthenticated_and_writes_nothing(
    anonymous: httpx.AsyncClient, db: Database
) -> None:
    doc = document("https://example.org/a", quote("Hello."))
    body = await gql(anonymous, IMPORT, doc=doc)
    assert body["data"] == {"importSource": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["errors"][0]["path"] == ["importSource"]
    # A key that is not one is refused before anything runs, as over REST.
    forged = await anonymous.post(
        "/graphql", json={"query": IMPORT, "variables": {"doc": doc}}, headers={"X-API-Key": "cb_forged"}
    )
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
    assert await counts(db) == (0, 0, 0)


async def test_a_key_without_the_scope_is_forbidden(
    anonymous: httpx.AsyncClient, db: Database, keys: dict[str, str]
) -> None:
    doc = document("https://example.org/a", quote("Hello."))
    body = await gql(anonymous, IMPORT, {"X-API-Key": keys["read"]}, doc=doc)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    written = await gql(anonymous, IMPORT, {"X-API-Key": keys["write"]}, doc=doc)
    assert written["data"]["importSource"]["created"] is True
    claim_id = written["data"]["importSource"]["claims"][0]["id"]
    delete = await gql(anonymous, DELETE, {"X-API-Key": keys["write"]}, input={"id": claim_id})
    assert delete["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await db.fetchval("SELECT count(*) FROM claim WHERE deleted_at IS NULL") == 1
    deleted = await gql(anonymous, DELETE, {"X-API-Key": keys["admin"]}, input={"id": claim_id})
    assert deleted["data"]["deleteClaim"]["deletedClaimId"] == claim_id
