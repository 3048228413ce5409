"""Ids over GraphQL: ASCII digits or a Relay global id, and nothing else (Python's `int` reads "٣" as 3
and refuses "¹": neither may reach the store); page sizes are 1–100, as documented."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from db.database import Database
from db.demo_data import load_demo
from tests.helpers import gql, messages

UNICODE_DIGITS = ["¹", "②", "①", "٣", "3²", "१२"]


def refused(body: dict[str, Any], argument: str) -> None:
    """The answer refuses the value as BAD_USER_INPUT, naming ``argument``."""
    assert body.get("data") in (None, {}) or all(v is None for v in body["data"].values()), body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}, error
    assert error["message"].startswith(f"{argument}: "), error


@pytest.mark.parametrize("digits", UNICODE_DIGITS)
async def test_unicode_digits_are_not_an_id_anywhere_a_query_takes_one(
    client: httpx.AsyncClient, db: Database, digits: str
) -> None:
    await load_demo(db)
    for query, argument in [
        ("query($v: ID!) { claim(id: $v) { id } }", "id"),
        ("query($v: ID!) { entity(id: $v) { id } }", "id"),
        ("query($v: ID!) { source(id: $v) { id } }", "id"),
        ("query($v: ID!) { node(id: $v) { id } }", "id"),
        ("query($v: ID!) { nodes(ids: [$v]) { id } }", "ids"),
        ("query($v: ID!) { claims(filter: {speakers: [$v]}) { totalCount } }", "filter.speakers"),
        ("query($v: ID!) { claims(filter: {mentions: [$v]}) { totalCount } }", "filter.mentions"),
        ("query($v: ID!) { claims(filter: {sources: [$v]}) { totalCount } }", "filter.sources"),
        ("query($v: ID!) { claims(filter: {reportedBy: [$v]}) { totalCount } }", "filter.reportedBy"),
        ("query($v: ID!) { sources(publisher: $v) { edges { cursor } } }", "publisher"),
    ]:
        refused(await gql(client, query, v=digits), argument)
        inline = query.replace("query($v: ID!) ", "").replace("$v", f'"{digits}"')
        refused(await gql(client, inline), argument)


async def test_ascii_digits_and_global_ids_still_find_the_record(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    claim_id = await db.fetchval("SELECT min(id) FROM claim")
    global_id = base64.b64encode(f"Claim:{claim_id}".encode()).decode()
    for value in (str(claim_id), global_id):
        body = await gql(client, "query($v: ID!) { claim(id: $v) { databaseId } }", v=value)
        assert body == {"data": {"claim": {"databaseId": claim_id}}}
    # "Claim:٣" inside a global id is no more an id than "٣" alone
    forged = base64.b64encode("Claim:٣".encode()).decode()
    refused(await gql(client, "query($v: ID!) { node(id: $v) { id } }", v=forged), "id")


@pytest.mark.parametrize("digits", ["¹", "②", "٣"])
async def test_unicode_digits_are_a_user_error_in_every_mutation_and_nothing_is_written(
    client: httpx.AsyncClient, db: Database, digits: str
) -> None:
    await load_demo(db)
    before = await db.fetchval(
        "SELECT (SELECT count(*) FROM claim) + (SELECT count(*) FROM entity WHERE merged_into IS NULL)"
    )
    claim = {"content": "A claim", "speakers": [{"entity": {"name": "Someone"}}]}
    cases = [
        (f'createClaim(input: {{claim: $c, sourceId: "{digits}"}})', ["input", "sourceId"]),
        (f'updateClaim(input: {{id: "{digits}", content: "x"}})', ["input", "id"]),
        (f'deleteClaim(input: {{id: "{digits}"}})', ["input", "id"]),
        (f'mergeEntities(input: {{sourceId: "{digits}", targetId: "1"}})', ["input", "sourceId"]),
        (f'mergeEntities(input: {{sourceId: "1", targetId: "{digits}"}})', ["input", "targetId"]),
    ]
    for call, field in cases:
        variables = "($c: ClaimInput!)" if "$c" in call else ""
        body = await gql(
            client, f"mutation{variables} {{ m: {call} {{ userErrors {{ field code message }} }} }}", c=claim
        )
        assert "errors" not in body, body
        [error] = body["data"]["m"]["userErrors"]
        assert error["field"] == field and error["code"] == "INVALID", error
        assert "is not a valid id" in error["message"], error
    after = await db.fetchval(
        "SELECT (SELECT count(*) FROM claim) + (SELECT count(*) FROM entity WHERE merged_into IS NULL)"
    )
    assert after == before


async def test_a_page_of_nothing_is_refused_as_the_schema_documents(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    for query, argument in [
        ("{ claims(first: 0) { totalCount } }", "first"),
        ("{ claims(last: 0) { totalCount } }", "last"),
        ("{ entities(first: 0) { edges { cursor } } }", "first"),
        ("{ sources(first: 0) { edges { cursor } } }", "first"),
        ('{ search(query: "Merz", first: 0) { __typename } }', "first"),
        ("{ topics { claims(first: 0) { totalCount } } }", "first"),
    ]:
        body = await gql(client, query)
        assert messages(body) == [f"{argument} must be between 1 and 100"], query
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert len((await gql(client, "{ claims(first: 1) { edges { cursor } } }"))["data"]["claims"]["edges"]) == 1


def gid(type_name: str, row_id: int) -> str:
    return base64.b64encode(f"{type_name}:{row_id}".encode()).decode()


async def test_a_merged_entitys_old_id_resolves_to_the_survivor(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    names = {r["name"]: r["id"] for r in await db.fetch("SELECT id, name FROM entity")}
    duplicate, survivor = names["Keir Starmer"], names["Emmanuel Macron"]
    merged = await client.post(f"/v1/entities/{duplicate}/merge", json={"into": survivor})
    assert merged.status_code == 200, merged.text
    rest = await client.get(f"/v1/entities/{duplicate}", follow_redirects=False)
    assert rest.status_code == 308 and rest.headers["location"].endswith(f"/v1/entities/{survivor}")
    expected = {"id": gid("Entity", survivor), "name": "Emmanuel Macron"}
    fields = "id ... on Entity { name }"

    for old in (str(duplicate), gid("Entity", duplicate)):
        body = await gql(client, "query($id: ID!) { entity(id: $id) { id name } }", id=old)
        assert body == {"data": {"entity": expected}}, old
    node = await gql(client, f"query($id: ID!) {{ node(id: $id) {{ {fields} }} }}", id=gid("Entity", duplicate))
    assert node == {"data": {"node": expected}}
    ids = [gid("Entity", duplicate), gid("Entity", names["Friedrich Merz"]), gid("Entity", 10**9)]
    nodes = await gql(client, f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ {fields} }} }}", ids=ids)
    assert nodes["data"]["nodes"] == [expected, {"id": ids[1], "name": "Friedrich Merz"}, None]
    # and lists no longer show the duplicate
    listed = await gql(client, "{ entities(first: 100) { edges { node { id } } } }")
    assert gid("Entity", duplicate) not in [e["node"]["id"] for e in listed["data"]["entities"]["edges"]]
