"""GraphQL queries through /graphql over the demo data and a generated corpus: the feed, every
filter against REST, keyset pages both ways, global ids, the entry points, GET, errors, and the
statement count that proves there is no N+1.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import get_introspection_query

from api.app import create_app
from api.settings import Settings
from db.database import Database
from db.demo_data import load_demo
from tests.corpus import load_corpus
from tests.helpers import data, gql, messages, with_database

# -- talking to /graphql ---------------------------------------------------------------------------


def when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def row_id(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().partition(":")[2])


async def ids_by_name(http: httpx.AsyncClient) -> dict[str, str]:
    """Global ids of every entity by name."""
    found = await data(http, "{ entities(first: 100) { edges { node { id name } } } }")
    return {e["node"]["name"]: e["node"]["id"] for e in found["entities"]["edges"]}


FEED = """
query Feed($first: Int, $after: String) {
  claims(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      cursor
      node {
        id databaseId content kind language saidAt saidAtPrecision firstReportedAt
        speakers { entity { name } role }
        appearances {
          quote span { start end }
          source { title publishedAt publisher { name } authors { name } }
          citedSource { title }
        }
        topics { slug name }
        mentions { name }
        relatedClaims { kind claim { content } }
      }
    }
  }
}"""


# -- the feed ---------------------------------------------------------------------------------------


async def test_the_feed_shows_who_said_what_and_who_reported_it(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)

    feed = (await data(client, FEED, first=20))["claims"]

    assert feed["totalCount"] == 10 and len(feed["edges"]) == 10
    assert feed["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": feed["edges"][0]["cursor"],
        "endCursor": feed["edges"][-1]["cursor"],
    }
    claims = {e["node"]["content"][:19]: e["node"] for e in feed["edges"]}
    quote = claims["building on the wor"]
    assert quote["kind"] == "DIRECT_QUOTE" and quote["language"] == "en"
    assert quote["saidAt"] == "2025-11-25T00:00:00+00:00" and quote["saidAtPrecision"] == "DAY"
    assert quote["firstReportedAt"] == "2025-11-26T00:00:00+00:00"
    assert quote["speakers"] == [
        {"entity": {"name": "Emmanuel Macron"}, "role": "CO_SIGNATORY"},
        {"entity": {"name": "Friedrich Merz"}, "role": "CO_SIGNATORY"},
        {"entity": {"name": "Keir Starmer"}, "role": "CO_SIGNATORY"},
        {"entity": {"name": "Coalition of the Willing"}, "role": "ON_BEHALF_OF"},
    ]
    [appearance] = quote["appearances"]
    assert appearance["source"]["publisher"] == {"name": "TASS"}
    assert appearance["source"]["title"].startswith("Merz, Macron, Starmer said")
    assert appearance["citedSource"]["title"].startswith("Joint statement of the co-chairs")
    assert appearance["quote"] in quote["content"] or quote["content"] in appearance["quote"]
    assert {t["slug"] for t in quote["topics"]} == {"ukraine-crisis", "security-guarantees"}
    assert {m["name"] for m in quote["mentions"]} == {"Marco Rubio", "United States"}
    paraphrase = claims["Participants of the"]
    assert paraphrase["relatedClaims"] == [{"kind": "REPEATS", "claim": {"content": quote["content"]}}]
    assert claims["During the meeting,"]["appearances"][0]["citedSource"] is None


async def test_the_feed_of_generated_data_matches_the_rest_claim_documents(
    client: httpx.AsyncClient, db: Database
) -> None:
    await load_corpus(db)

    feed = (await data(client, FEED, first=100))["claims"]

    assert feed["totalCount"] == len(feed["edges"]) > 20
    reprinted = 0
    for edge in feed["edges"]:
        node = edge["node"]
        rest = (await client.get(f"/v1/claims/{node['databaseId']}")).json()
        assert node["id"] == base64.b64encode(f"Claim:{rest['id']}".encode()).decode()
        assert node["content"] == rest["content"]
        assert [s["entity"]["name"] for s in node["speakers"]] == [s["name"] for s in rest["speakers"]]
        assert sorted(a["source"]["title"] for a in node["appearances"]) == sorted(
            a["source"]["title"] for a in rest["appearances"]
        )
        assert sorted(t["slug"] for t in node["topics"]) == sorted(t["slug"] for t in rest["topics"])
        reprinted += len(node["appearances"]) > 1
        published = [when(a["source"]["publishedAt"]) for a in node["appearances"] if a["source"]["publishedAt"]]
        assert when(node["firstReportedAt"]) == (min(published) if published else None)
        for a in node["appearances"]:
            if a["span"] is not None:
                assert a["span"]["end"] - a["span"]["start"] == len(a["quote"])
    assert reprinted, "the corpus reprints some claims in several sources"


# -- filters ----------------------------------------------------------------------------------------

CLAIM_IDS = """
query($filter: ClaimFilter, $order: ClaimOrder!) {
  claims(filter: $filter, orderBy: $order, first: 100) { totalCount edges { node { databaseId } } }
}"""
REST_SORT = {"SAID_AT_DESC": "-said_at", "SAID_AT_ASC": "said_at", "REPORTED_AT_DESC": "-reported_at"}


async def both_ways(
    http: httpx.AsyncClient, gql_filter: dict[str, Any], rest: list[tuple[str, Any]], order: str = "SAID_AT_DESC"
) -> list[int]:
    """Claim ids the GraphQL filter selects, after checking REST selects the same, in the same order."""
    found = (await data(http, CLAIM_IDS, filter=gql_filter, order=order))["claims"]
    ids = [e["node"]["databaseId"] for e in found["edges"]]
    assert found["totalCount"] == len(ids)
    response = await http.get("/v1/claims", params=[*rest, ("limit", 100), ("sort", REST_SORT[order])])
    assert response.status_code == 200, response.text
    assert [c["id"] for c in response.json()["data"]] == ids, (gql_filter, rest)
    return ids


async def test_every_filter_criterion_selects_what_rest_selects(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    await load_corpus(db)
    names = await ids_by_name(client)
    sources = await data(client, "{ sources(first: 100) { edges { node { id title } } } }")
    source_ids = [e["node"]["id"] for e in sources["sources"]["edges"]]
    everything = await both_ways(client, {}, [])
    merz, rubio, tass, reuters = (names[n] for n in ("Friedrich Merz", "Marco Rubio", "TASS", "Reuters"))
    ukraine = names["Ukraine"]

    single = {
        "speakers": (
            {"speakers": [merz]},
            [("speaker", row_id(merz))],
        ),
        "mentions": ({"mentions": [ukraine]}, [("mentions", row_id(ukraine))]),
        "topics": ({"topics": ["security"]}, [("topic", "security")]),
        "sources": ({"sources": [source_ids[3]]}, [("source", row_id(source_ids[3]))]),
        "reportedBy": ({"reportedBy": [reuters]}, [("reported_by", row_id(reuters))]),
        "saidAfter": ({"saidAfter": "2025-11-23"}, [("said_after", "2025-11-23")]),
        "saidBefore": ({"saidBefore": "2025-11-21"}, [("said_before", "2025-11-21")]),
        "reportedAfter": ({"reportedAfter": "2025-11-24T18:45:10Z"}, [("reported_after", "2025-11-24T18:45:10Z")]),
        "reportedBefore": ({"reportedBefore": "2025-11-23"}, [("reported_before", "2025-11-23")]),
        "kind": ({"kind": ["PARAPHRASE"]}, [("kind", "paraphrase")]),
        "language": ({"language": ["de"]}, [("lang", "de")]),
        "search": ({"search": "guarantees"}, [("q", "guarantees")]),
    }  # fmt: skip
    selected = {}
    for name, (gql_filter, rest) in single.items():
        ids = await both_ways(client, gql_filter, rest)
        assert 0 < len(ids) < len(everything), f"{name} should narrow the feed: {len(ids)} of {len(everything)}"
        selected[name] = set(ids)
    instant, later = "2025-11-23T14:30:00Z", "2025-11-23T14:30:01Z"
    at_instant = set(await both_ways(client, {"saidAfter": instant}, [("said_after", instant)]))
    at_instant -= set(await both_ways(client, {"saidAfter": later}, [("said_after", later)]))
    assert at_instant, "saidAfter is inclusive"
    assert not at_instant & set(await both_ways(client, {"saidBefore": instant}, [("said_before", instant)]))

    # Values inside one criterion are OR-ed…
    either = await both_ways(
        client, {"speakers": [merz, rubio]}, [("speaker", row_id(merz)), ("speaker", row_id(rubio))]
    )
    rubio_alone = set(await both_ways(client, {"speakers": [rubio]}, [("speaker", row_id(rubio))]))
    assert set(either) == selected["speakers"] | rubio_alone and rubio_alone - selected["speakers"]
    publishers = [("reported_by", row_id(tass)), ("reported_by", row_id(reuters))]
    assert set(await both_ways(client, {"reportedBy": [tass, reuters]}, publishers)) > selected["reportedBy"]
    kinds = await both_ways(
        client, {"kind": ["PARAPHRASE", "PARTIAL_QUOTE"]}, [("kind", "paraphrase"), ("kind", "partial_quote")]
    )
    assert set(kinds) > selected["kind"]
    # …and criteria AND-ed.
    both = await both_ways(
        client, {"speakers": [merz], "topics": ["security"]}, [("speaker", row_id(merz)), ("topic", "security")]
    )
    assert set(both) == selected["speakers"] & selected["topics"] and both
    window = await both_ways(
        client,
        {"saidAfter": "2025-11-21", "saidBefore": "2025-11-25", "language": ["en"], "mentions": [ukraine]},
        [("said_after", "2025-11-21"), ("said_before", "2025-11-25"), ("lang", "en"), ("mentions", row_id(ukraine))],
    )
    assert window and set(window) < selected["mentions"]
    for order in REST_SORT:
        assert sorted(await both_ways(client, {"speakers": [merz]}, [("speaker", row_id(merz))], order)) == sorted(
            selected["speakers"]
        )


# -- keyset pages -----------------------------------------------------------------------------------

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $order: ClaimOrder!) {
  claims(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { databaseId } }
  }
}"""


async def walk(http: httpx.AsyncClient, order: str, size: int, backward: bool) -> list[int]:
    """Every claim id, a page of ``size`` at a time, forwards (first/after) or backwards (last/before)."""
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        args = {"last": size, "before": cursor} if backward else {"first": size, "after": cursor}
        page = (await data(http, PAGE, order=order, **args))["claims"]
        ids = [e["node"]["databaseId"] for e in page["edges"]]
        info = page["pageInfo"]
        assert len(ids) <= size
        if ids:
            assert info["startCursor"] == page["edges"][0]["cursor"]
            assert info["endCursor"] == page["edges"][-1]["cursor"]
        seen = ids + seen if backward else seen + ids
        more = info["hasPreviousPage"] if backward else info["hasNextPage"]
        assert (info["hasNextPage"] if backward else info["hasPreviousPage"]) is (cursor is not None)
        if not more:
            break
        cursor = info["startCursor"] if backward else info["endCursor"]
    return seen


@pytest.mark.parametrize("order", ["SAID_AT_DESC", "SAID_AT_ASC", "REPORTED_AT_DESC"])
async def test_pages_forwards_and_backwards_visit_every_claim_exactly_once(
    client: httpx.AsyncClient, db: Database, order: str
) -> None:
    await load_corpus(db)
    everything = (await data(client, PAGE, order=order, first=100))["claims"]
    expected = [e["node"]["databaseId"] for e in everything["edges"]]
    assert len(expected) > 20 and len(set(expected)) == len(expected)

    for size in (1, 4, 7):
        assert await walk(client, order, size, backward=False) == expected, size
        assert await walk(client, order, size, backward=True) == expected, size


async def test_a_nested_connection_pages_both_ways_too(client: httpx.AsyncClient, db: Database) -> None:
    await load_corpus(db)
    merz = (await ids_by_name(client))["Friedrich Merz"]
    nested = """
    query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
      entity(id: $id) {
        claims(first: $first, after: $after, last: $last, before: $before) {
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { databaseId } }
        }
      }
    }"""
    everything = (await data(client, nested, id=merz, first=100))["entity"]["claims"]["edges"]
    expected = [e["node"]["databaseId"] for e in everything]
    assert len(expected) > 3

    forwards: list[int] = []
    cursor = None
    while True:
        page = (await data(client, nested, id=merz, first=2, after=cursor))["entity"]["claims"]
        forwards += [e["node"]["databaseId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    backwards: list[int] = []
    cursor = None
    while True:
        page = (await data(client, nested, id=merz, last=3, before=cursor))["entity"]["claims"]
        backwards = [e["node"]["databaseId"] for e in page["edges"]] + backwards
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        cursor = page["pageInfo"]["startCursor"]
    assert forwards == expected == backwards


# -- ids --------------------------------------------------------------------------------------------

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Claim { content }
    ... on Entity { name }
    ... on Source { title }
    ... on Topic { slug }
    ... on Appearance { quote }
    ... on EntityRole { role: title }
  }
}"""


async def one_of_each(http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """One object of every Node type, read through ordinary fields."""
    found = await data(
        http,
        """{
          claims(first: 1) {
            edges { node { id content appearances { id quote source { id title } } topics { id slug } } }
          }
          entities(search: "merz") { edges { node { id name roles { id title } } } }
        }""",
    )
    claim = found["claims"]["edges"][0]["node"]
    entity = found["entities"]["edges"][0]["node"]
    return {
        "Claim": {"id": claim["id"], "content": claim["content"]},
        "Appearance": {"id": claim["appearances"][0]["id"], "quote": claim["appearances"][0]["quote"]},
        "Source": claim["appearances"][0]["source"],
        "Topic": claim["topics"][0],
        "Entity": {"id": entity["id"], "name": entity["name"]},
        "EntityRole": {"id": entity["roles"][0]["id"], "role": entity["roles"][0]["title"]},
    }


async def test_node_finds_an_object_of_every_type_by_its_global_id(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    await load_corpus(db)
    objects = await one_of_each(client)
    assert set(objects) == {"Claim", "Entity", "Source", "Topic", "Appearance", "EntityRole"}

    for type_name, fields in objects.items():
        assert base64.b64decode(fields["id"]).decode().startswith(f"{type_name}:")
        found = (await data(client, NODE, id=fields["id"]))["node"]
        assert found == {"__typename": type_name, **fields}, type_name

    ids = [o["id"] for o in objects.values()]
    missing = base64.b64encode(b"Claim:999999").decode()
    listed = await data(client, "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }", ids=[*ids, missing])
    assert [n and n["id"] for n in listed["nodes"]] == [*ids, None]
    assert [n["__typename"] for n in listed["nodes"][:-1]] == list(objects)


async def test_a_deleted_claim_and_its_appearances_are_gone_by_id(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    objects = await one_of_each(client)
    claim_id = row_id(objects["Claim"]["id"])
    assert (await client.delete(f"/v1/claims/{claim_id}")).status_code == 204

    for type_name in ("Claim", "Appearance"):
        assert (await data(client, NODE, id=objects[type_name]["id"]))["node"] is None, type_name
    assert (await data(client, "query($id: ID!) { claim(id: $id) { id } }", id=str(claim_id)))["claim"] is None
    feed = (await data(client, "{ claims { totalCount edges { node { id } } } }"))["claims"]
    assert feed["totalCount"] == 9 and objects["Claim"]["id"] not in [e["node"]["id"] for e in feed["edges"]]


# -- the entry points ------------------------------------------------------------------------------


async def test_a_person_page_shows_aliases_roles_claims_and_mentions(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    await load_corpus(db)
    names = await ids_by_name(client)
    person = """
    query($id: ID!, $topic: String!) {
      entity(id: $id) {
        id databaseId kind name description aliases externalIds { scheme value }
        roles { title startDate endDate }
        claims(first: 50) { totalCount edges { node { speakers { entity { name } } } } }
        onTopic: claims(first: 50, filter: {topics: [$topic]}) { totalCount edges { node { topics { slug } } } }
        mentionedIn(first: 50) { totalCount edges { node { mentions { name } } } }
      }
    }"""
    merz = (await data(client, person, id=names["Friedrich Merz"], topic="security"))["entity"]

    assert merz["kind"] == "PERSON" and merz["name"] == "Friedrich Merz"
    assert "Merz" in merz["aliases"] and merz["externalIds"] == [{"scheme": "wikidata", "value": "Q2514"}]
    assert {"title": "Chancellor of Germany", "startDate": "2025-05-06", "endDate": None} in merz["roles"]
    spoken = merz["claims"]["edges"]
    assert merz["claims"]["totalCount"] == len(spoken) > 10
    assert all("Friedrich Merz" in [s["entity"]["name"] for s in e["node"]["speakers"]] for e in spoken)
    on_topic = merz["onTopic"]["edges"]
    assert 0 < len(on_topic) < len(spoken)
    assert all("security" in [t["slug"] for t in e["node"]["topics"]] for e in on_topic)
    mentioned = merz["mentionedIn"]["edges"]
    assert merz["mentionedIn"]["totalCount"] == len(mentioned) > 0
    assert all("Friedrich Merz" in [m["name"] for m in e["node"]["mentions"]] for e in mentioned)
    by_row_id = (await data(client, person, id=str(merz["databaseId"]), topic="security"))["entity"]
    assert by_row_id == merz, "a plain row id is the same entity"


async def test_entities_are_found_by_any_alias_ignoring_case_and_accents(
    client: httpx.AsyncClient, db: Database
) -> None:
    await load_demo(db)
    await load_corpus(db)
    search = """
    query($q: String, $kind: EntityKind, $first: Int) {
      entities(search: $q, kind: $kind, first: $first) { pageInfo { hasNextPage } edges { node { name kind } } }
    }"""

    async def names(**variables: Any) -> list[str]:
        found = await data(client, search, **variables)
        return [e["node"]["name"] for e in found["entities"]["edges"]]

    assert (await names(q="merz"))[0] == "Friedrich Merz"
    assert (await names(q="SECRETARY rub"))[0] == "Marco Rubio"
    assert "Volodymyr Zelensky" in await names(q="zelénsky")
    assert await names(q="tass russian") == ["TASS"]
    assert await names(q="qqqq") == []
    places = await names(kind="PLACE", first=100)
    assert "Ukraine" in places and "Friedrich Merz" not in places
    first_two = await data(client, search, first=2)
    assert len(first_two["entities"]["edges"]) == 2 and first_two["entities"]["pageInfo"]["hasNextPage"]


async def test_a_source_page_shows_its_publisher_authors_citations_and_claims(
    client: httpx.AsyncClient, db: Database
) -> None:
    await load_demo(db)
    page = """
    query($id: ID!) {
      source(id: $id) {
        id kind title url publishedAt language
        publisher { name } authors { name } cites { title publisher { name } }
        claims(first: 5) { totalCount pageInfo { hasNextPage } edges { node { content } } }
      }
    }"""
    listed = await data(client, "{ sources(first: 10) { edges { node { id title publisher { name } publishedAt } } } }")
    by_title = {e["node"]["title"][:14]: e["node"] for e in listed["sources"]["edges"]}
    assert set(by_title) == {"Merz, Macron, ", "Joint statemen"}
    article = (await data(client, page, id=by_title["Merz, Macron, "]["id"]))["source"]

    assert article["kind"] == "NEWS_ARTICLE" and article["publisher"] == {"name": "TASS"}
    assert article["publishedAt"] == "2025-11-26T00:00:00+00:00" and article["language"] == "en"
    assert article["cites"] == [
        {"title": by_title["Joint statemen"]["title"], "publisher": {"name": "Coalition of the Willing"}}
    ]
    assert article["claims"]["totalCount"] == 10
    assert len(article["claims"]["edges"]) == 5 and article["claims"]["pageInfo"]["hasNextPage"]
    statement = (await data(client, page, id=by_title["Joint statemen"]["id"]))["source"]
    assert statement["cites"] == [] and statement["claims"]["totalCount"] == 0


async def test_sources_are_listed_newest_first_and_filtered_by_publisher_and_date(
    client: httpx.AsyncClient, db: Database
) -> None:
    await load_corpus(db)
    names = await ids_by_name(client)
    listing = """
    query($publisher: ID, $after: DateTime, $first: Int) {
      sources(publisher: $publisher, publishedAfter: $after, first: $first) {
        edges { node { title publishedAt publisher { name } } }
      }
    }"""
    every = [e["node"] for e in (await data(client, listing, first=100))["sources"]["edges"]]
    dated = [when(s["publishedAt"]) for s in every if s["publishedAt"]]
    assert dated == sorted(dated, reverse=True) and every[-1]["publishedAt"] is None, "newest first, undated last"
    reuters = (await data(client, listing, publisher=names["Reuters"], first=100))["sources"]["edges"]
    assert reuters and all(e["node"]["publisher"] == {"name": "Reuters"} for e in reuters)
    assert len(reuters) < len(every)
    recent = (await data(client, listing, after="2025-11-24", first=100))["sources"]["edges"]
    assert recent and all(when(e["node"]["publishedAt"]) >= when("2025-11-24T00:00:00+00:00") for e in recent)  # type: ignore[operator]


async def test_topics_and_a_topics_claims(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    found = await data(
        client, "{ topics { slug name claims(first: 100) { totalCount edges { node { topics { slug } } } } } }"
    )
    slugs = [t["slug"] for t in found["topics"]]
    assert slugs == sorted(slugs) and "ukraine-crisis" in slugs
    for topic in found["topics"]:
        assert topic["claims"]["totalCount"] == len(topic["claims"]["edges"]) > 0
        assert all(topic["slug"] in [t["slug"] for t in e["node"]["topics"]] for e in topic["claims"]["edges"])
    assert next(t for t in found["topics"] if t["slug"] == "ukraine-crisis")["claims"]["totalCount"] == 10


async def test_search_ranks_claims_and_entities_together(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    query = """
    query($q: String!, $first: Int!) {
      search(query: $q, first: $first) { __typename ... on Claim { content } ... on Entity { name } }
    }"""

    hits = (await data(client, query, q="security guarantees", first=10))["search"]
    assert hits and all(h["__typename"] == "Claim" for h in hits)
    assert all("security guarantees" in h["content"].lower() or "guarantee" in h["content"].lower() for h in hits)
    people = (await data(client, query, q="Rubio", first=10))["search"]
    assert {"__typename": "Entity", "name": "Marco Rubio"} in people
    assert any(h["__typename"] == "Claim" for h in people), "claims that name him rank with him"
    assert len((await data(client, query, q="Ukraine", first=3))["search"]) == 3
    assert (await data(client, query, q="zzzzqx", first=10))["search"] == []


# -- GET, and errors --------------------------------------------------------------------------------


async def test_get_runs_queries_and_refuses_mutations(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    query = "query($n: Int) { claims(first: $n) { edges { node { content } } } }"

    response = await client.get("/graphql", params={"query": query, "variables": '{"n": 2}'})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert len(response.json()["data"]["claims"]["edges"]) == 2
    mutation = 'mutation { deleteClaim(input: {id: "1"}) { deletedClaimId } }'
    refused = await client.get("/graphql", params={"query": mutation})
    assert refused.status_code == 405 and messages(refused.json()) == ["mutations need POST"]
    assert (await data(client, "{ claim(id: 1) { id } }"))["claim"] is not None, "nothing was deleted"


async def test_a_malformed_or_foreign_cursor_is_a_precise_error(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    page = "query($after: String, $order: ClaimOrder!) { claims(after: $after, orderBy: $order) { totalCount } }"
    body = await gql(client, page, after="not a cursor", order="SAID_AT_DESC")
    assert body["data"] is None
    assert body["errors"][0]["message"] == "after: the cursor is not one this API issued"
    assert body["errors"][0]["path"] == ["claims"]

    cursor = (await data(client, "{ claims(first: 1) { pageInfo { endCursor } } }"))["claims"]["pageInfo"]["endCursor"]
    foreign = await gql(client, page, after=cursor, order="SAID_AT_ASC")
    assert messages(foreign) == ["after: the cursor belongs to another ordering ('-said_at'), not 'said_at'"]
    # A rank no PostgreSQL `real` can hold: refused as a forgery, not a failed statement.
    forged = base64.urlsafe_b64encode(b"relevance|1e999|1").decode().rstrip("=")
    ranked = """
    query($after: String) { claims(filter: {search: "security"}, orderBy: RELEVANCE, after: $after) { totalCount } }"""
    assert messages(await gql(client, ranked, after=forged)) == ["after: the cursor is not one this API issued"]
    both = await gql(client, "{ claims(first: 1, last: 1) { totalCount } }")
    assert messages(both) == ["give either first or last, not both"]


async def test_ids_that_do_not_fit_are_precise_errors_and_unknown_ones_are_null(
    client: httpx.AsyncClient, db: Database
) -> None:
    await load_demo(db)
    unknown = base64.b64encode(b"Claim:999999").decode()
    entity = base64.b64encode(b"Entity:1").decode()

    assert await data(client, f'{{ claim(id: "{unknown}") {{ id }} node(id: "{unknown}") {{ id }} }}') == {
        "claim": None,
        "node": None,
    }
    wrong_type = await gql(client, f'{{ claim(id: "{entity}") {{ id }} }}')
    assert messages(wrong_type) == ["id: expected the id of a Claim, got one of an Entity"]
    assert wrong_type["errors"][0]["path"] == ["claim"]
    assert wrong_type["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert messages(await gql(client, '{ node(id: "no such thing") { id } }')) == [
        "id: 'no such thing' is not a valid id"
    ]
    assert messages(await gql(client, '{ claims(filter: {speakers: ["nope"]}) { totalCount } }')) == [
        "filter.speakers: 'nope' is not a valid id"
    ]
    assert messages(await gql(client, '{ entities(search: "a\\u0000b") { edges { cursor } } }')) == [
        "search: must not contain NUL characters"
    ]


async def test_internal_errors_are_masked(db: Database, server_dsn: str, settings: Settings) -> None:
    """A database without the schema (a real server in a state the code does not expect): every
    statement fails, and the answers say so without SQL, table names or stack traces."""
    name = f"claims_unmigrated_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    empty = Database(with_database(server_dsn, name), min_size=1, max_size=2)
    await empty.connect()
    try:
        app = create_app(settings, database=empty)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            for query in (FEED, "{ entity(id: 1) { name } topics { slug } }"):
                response = await http.post("/graphql", json={"query": query})
                assert response.status_code == 200
                body = response.json()
                assert body["errors"] and {e["message"] for e in body["errors"]} == {"Internal error."}
                assert {e["extensions"]["code"] for e in body["errors"]} == {"INTERNAL_SERVER_ERROR"}
                for leak in ("relation", "SELECT", "Traceback", "claim_speaker", "asyncpg"):
                    assert leak not in response.text
    finally:
        await empty.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


# -- no N+1 -----------------------------------------------------------------------------------------

SCREEN = """
query Feed($first: Int!) {
  claims(first: $first) {
    edges { node {
      content
      speakers { role entity { name } }
      appearances { quote source { title publisher { name } } citedSource { title publisher { name } } }
    } }
  }
}"""


async def statements_for(db: Database, run: Any) -> tuple[Any, list[str]]:
    seen: list[str] = []
    db.statement_listeners.append(seen.append)
    try:
        return await run(), seen
    finally:
        db.statement_listeners.remove(seen.append)


async def test_a_feed_costs_one_statement_whatever_its_size(anonymous: httpx.AsyncClient, db: Database) -> None:
    await load_corpus(db, seed=11, sources=45)

    counts = {}
    for size in (10, 100):
        feed, seen = await statements_for(db, lambda: data(anonymous, SCREEN, first=size))  # noqa: B023
        assert len(feed["claims"]["edges"]) == size, "the corpus holds more than 100 claims"
        counts[size] = len(seen)
    assert counts == {10: 1, 100: 1}, "one statement builds the whole response"


async def test_node_and_nodes_of_every_type_cost_one_statement(anonymous: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    objects = await one_of_each(anonymous)
    ids = [o["id"] for o in objects.values()]
    query = """query($ids: [ID!]!, $id: ID!) {
      nodes(ids: $ids) { id ... on Claim { speakers { entity { name } } } } node(id: $id) { id }
    }"""

    answer, seen = await statements_for(db, lambda: data(anonymous, query, ids=ids, id=ids[0]))
    assert [n["id"] for n in answer["nodes"]] == ids and answer["node"]["id"] == ids[0]
    assert len(seen) == 1


DEEP_CLAIM = """claim {
  content speakers { entity { name aliases roles { title } claims(first: 3) { totalCount } } }
  appearances { source { title publisher { name } } } topics { slug }
}"""


async def test_a_mutation_reads_its_whole_payload_with_one_statement(client: httpx.AsyncClient, db: Database) -> None:
    """The write takes the statements it takes; what the payload selects, however deep, is one more."""
    await load_demo(db)
    source_id = await db.fetchval("SELECT min(id) FROM source")
    create = "mutation($c: ClaimInput!, $s: ID!) { createClaim(input: {claim: $c, sourceId: $s}) { created %s } }"

    async def statements(content: str, payload: str) -> int:
        claim = {"content": content, "speakers": [{"entity": {"name": "Friedrich Merz", "kind": "PERSON"}}]}
        body, seen = await statements_for(db, lambda: data(client, create % payload, c=claim, s=str(source_id)))
        assert body["createClaim"]["created"] is True
        if payload:
            assert body["createClaim"]["claim"]["content"] == content
            assert body["createClaim"]["claim"]["speakers"][0]["entity"]["claims"]["totalCount"] > 0
        return len(seen)

    await statements("A claim that warms the caches up", "")
    bare = await statements("A first new claim about guarantees", "")
    deep = await statements("A second new claim about guarantees", DEEP_CLAIM)
    assert deep == bare + 1


# -- limits -----------------------------------------------------------------------------------------


def error_of(body: dict[str, Any]) -> tuple[str, str]:
    [error] = body["errors"]
    return error["extensions"]["code"], error["message"]


async def test_each_limit_is_a_clear_error_naming_it(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    eleven = "claims(first: 2) { edges { node { speakers { entity { claims(first: 2) { edges { node { speakers { entity { claims(first: 2) { %s } } } } } } } } } } }"  # noqa: E501
    assert (await data(client, "{ %s }" % (eleven % "totalCount")))["claims"]["edges"], "depth 12 is allowed"
    deep = "{ %s }" % (eleven % "pageInfo { hasNextPage }")
    assert error_of(await gql(client, deep)) == ("DEPTH_LIMIT", "query depth 13 exceeds the limit of 12")

    aliases = " ".join(f"a{i}: topics {{ slug }}" for i in range(31))
    assert error_of(await gql(client, f"{{ {aliases} }}")) == ("ALIAS_LIMIT", "31 aliases exceed the limit of 30")

    tokens = await gql(client, "{ " + "__typename " * 2001 + "}")
    code, message = error_of(tokens)
    assert code == "TOKEN_LIMIT" and "2000 tokens" in message

    costly = "{ claims(first: 100) { edges { node { speakers { entity { claims(first: 100) { totalCount } } } } } } }"
    code, message = error_of(await gql(client, costly))
    assert code == "COST_LIMIT" and message.startswith("query cost ") and "exceeds the limit of 50000" in message

    for argument in ("first: 101", "last: 101", "first: -1"):
        body = await gql(client, f"{{ claims({argument}) {{ totalCount }} }}")
        assert messages(body) == [f"{argument.split(':')[0]} must be between 1 and 100"], argument
    nested = await gql(client, "{ entity(id: 1) { claims(first: 500) { totalCount } } }")
    assert messages(nested) == ["first must be between 1 and 100"] and nested["errors"][0]["path"] == [
        "entity",
        "claims",
    ]
    assert messages(await gql(client, '{ search(query: "x", first: 1000) { __typename } }')) == [
        "first must be between 1 and 100"
    ]
    ids = [str(i) for i in range(101)]
    assert messages(await gql(client, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", ids=ids)) == [
        "ids: at most 100"
    ]


async def test_alias_bombs_fragment_chains_and_cycles_are_refused(client: httpx.AsyncClient, db: Database) -> None:
    await load_demo(db)
    bomb = "{ " + " ".join(f"a{i}: claims(first: 100) {{ totalCount }}" for i in range(200)) + " }"
    assert error_of(await gql(client, bomb))[0] in ("ALIAS_LIMIT", "TOKEN_LIMIT")
    # Few aliases, but each one a wide page of wide pages: the cost limit stops it.
    page_of_pages = (
        "claims(first: 100) { edges { node { speakers { entity { claims(first: 100) { totalCount } } } } } }"
    )
    wide = "{ " + " ".join(f"a{i}: {page_of_pages}" for i in range(3)) + " }"
    assert error_of(await gql(client, wide))[0] == "COST_LIMIT"

    chain = ["{ claims { edges { node { ...F0 } } } }"]
    for i in range(6):
        chain.append(
            f"fragment F{i} on Claim {{ speakers {{ entity {{ claims {{ edges {{ node {{ ...F{i + 1} }} }} }} }} }} }}"
        )
    chain.append("fragment F6 on Claim { id }")
    code, message = error_of(await gql(client, "\n".join(chain)))
    assert code == "DEPTH_LIMIT" and "exceeds the limit of 12" in message

    cycle = """
    { claims { edges { node { ...A } } } }
    fragment A on Claim { speakers { entity { claims { edges { node { ...B } } } } } }
    fragment B on Claim { relatedClaims { claim { ...A } } }"""
    body = await gql(client, cycle)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Cannot spread fragment 'A' within itself via 'B'." in messages(body)


async def test_introspection_is_on_by_default_and_refused_when_switched_off(
    client: httpx.AsyncClient, db: Database, keys: dict[str, str]
) -> None:
    full = get_introspection_query(descriptions=True)
    assert (await data(client, full))["__schema"]["queryType"]["name"] == "Query", "what GraphiQL sends fits the limits"

    closed = create_app(
        Settings(
            load_demo=False, rate_limit_per_minute=0, database_url="postgresql://unused", graphql_introspection=False
        ),
        database=db,
    )
    transport = httpx.ASGITransport(app=closed)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"X-API-Key": keys["admin"]}
    ) as http:
        for query in (full, "{ __schema { types { name } } }", '{ __type(name: "Claim") { name } }'):
            body = await gql(http, query)
            assert body.get("data") is None
            assert any("introspection" in m.lower() for m in messages(body)), messages(body)
        assert "data" in await gql(http, "{ __typename topics { slug } }"), "ordinary queries still run"


async def test_an_error_deep_in_one_field_leaves_the_others_whole(client: httpx.AsyncClient, db: Database) -> None:
    """A refused argument nulls the nearest nullable field above it; every other field is answered
    (by the same one statement)."""
    await load_demo(db)
    await load_corpus(db)
    query = """{
      a: claims(first: 30) { edges { node { speakers { entity { aliases } } } } }
      b: claim(id: 1) { speakers { entity { aliases claims(first: 101) { totalCount } } } }
    }"""

    body = await gql(client, query)

    assert body["data"]["b"] is None, "the error nulls the nearest nullable parent"
    assert set(messages(body)) == {"first must be between 1 and 100"}
    aliases = [s["entity"]["aliases"] for e in body["data"]["a"]["edges"] for s in e["node"]["speakers"]]
    assert len(aliases) > 30 and all(aliases) and any("Merz" in a for a in aliases)


async def test_a_refused_argument_under_a_non_null_root_field_reads_nothing(
    anonymous: httpx.AsyncClient, db: Database
) -> None:
    """`claims` cannot be null, so its refused argument nulls the whole `data`: nothing is read."""
    await load_demo(db)
    query = '{ search(query: "security guarantees") { __typename } claims(first: 101) { totalCount } }'

    body, seen = await statements_for(db, lambda: gql(anonymous, query))

    assert messages(body) == ["first must be between 1 and 100"] and body["data"] is None
    assert body["errors"][0]["path"] == ["claims"] and body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert seen == []


async def test_introspection_beside_data_fields_answers_both_in_one_document(
    anonymous: httpx.AsyncClient, db: Database
) -> None:
    await load_demo(db)
    query = "query($t: String!) { __type(name: $t) { name kind } topics { slug } }"

    for type_name, kind in (("Claim", "OBJECT"), ("Node", "INTERFACE")):
        body, seen = await statements_for(db, lambda: data(anonymous, query, t=type_name))  # noqa: B023
        assert body["__type"] == {"name": type_name, "kind": kind} and body["topics"]
        assert len(seen) == 1
