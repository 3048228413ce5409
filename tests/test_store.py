"""The claims store: identity, de-duplication and all-or-nothing writes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from db.database import Database
from db.documents import DocumentError, write_source_document
from db.migrate import migrate
from schema.documents import SourceDocument
from tests.helpers import with_database

MERZ = {"name": "Friedrich Merz", "kind": "person", "aliases": ["Merz", "German Chancellor Friedrich Merz"]}


def doc(url: str, *claims: dict[str, Any], publisher: str = "TASS", **source: Any) -> SourceDocument:
    return SourceDocument.model_validate(
        {
            "source": {
                "kind": "news_article",
                "title": f"Report {url}",
                "url": url,
                "publisher": {"name": publisher, "kind": "organization"},
                "published_at": "2025-11-26T09:00:00+00:00",
                **source,
            },
            "claims": list(claims),
        }
    )


def quote(content: str, speaker: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "content": content,
        "said_at": "2025-11-25",
        "speakers": [{"entity": speaker or MERZ}],
        "appearance": {"quote": content},
        **extra,
    }


async def count(db: Database, table: str) -> int:
    return int(await db.fetchval(f"SELECT count(*) FROM {table}"))


async def test_migrating_twice_is_a_no_op(db: Database, server_dsn: str) -> None:
    assert await migrate(server_dsn) == []
    assert await migrate(server_dsn) == []


async def test_concurrent_migrators_apply_each_migration_once(server_dsn: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(server_dsn)
    name = "claims_migrate_race"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = with_database(server_dsn, name)
        results = await asyncio.gather(*(migrate(dsn) for _ in range(5)))
        applied = [v for r in results for v in r]
        conn = await asyncpg.connect(dsn)
        try:
            recorded = await conn.fetch("SELECT version FROM schema_migration")
        finally:
            await conn.close()
        assert sorted(applied) == sorted(r["version"] for r in recorded)
        assert len(applied) == len(set(applied)) > 0
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.parametrize(
    "written_as", ["merz", "FRIEDRICH MERZ", "Friédrich  Merz", "german chancellor friedrich merz"]
)
async def test_an_entity_is_found_by_any_alias_whatever_the_case_and_accents(db: Database, written_as: str) -> None:
    await write_source_document(db, doc("https://a.example/1", quote("We will act.")))
    other = {"name": written_as, "kind": "person"}
    await write_source_document(db, doc("https://b.example/2", quote("We will act again.", other)))
    assert await db.fetchval("SELECT count(*) FROM entity WHERE kind = 'person'") == 1


async def test_an_entity_is_found_by_its_wikidata_id(db: Database) -> None:
    merz = {**MERZ, "external_ids": {"wikidata": "Q2514"}}
    await write_source_document(db, doc("https://a.example/1", quote("We will act.", merz)))
    by_qid = {"external_ids": {"wikidata": "Q2514"}}
    await write_source_document(db, doc("https://b.example/2", quote("We will act again.", by_qid)))
    assert await db.fetchval("SELECT count(*) FROM entity WHERE kind = 'person'") == 1


async def test_the_same_quote_reported_by_two_sources_is_one_claim_with_two_appearances(db: Database) -> None:
    first = await write_source_document(
        db, doc("https://tass.example/1", quote("Borders must not be changed by force."))
    )
    second = await write_source_document(
        db,
        doc(
            "https://reuters.example/9",
            quote("Borders must not be changed by force!", {"name": "merz", "kind": "person"}),
            publisher="Reuters",
        ),
    )
    assert first.claims[0].id == second.claims[0].id
    assert second.claims[0].created is False and second.claims[0].appearance_created is True
    assert await count(db, "claim") == 1
    assert await count(db, "appearance") == 2


async def test_writing_the_same_document_twice_changes_nothing(db: Database) -> None:
    document = doc(
        "https://tass.example/1",
        quote("We agreed.", mentions=[{"name": "Ukraine", "kind": "place"}], topics=["ukraine-crisis"]),
    )
    first = await write_source_document(db, document)
    tables = ["entity", "entity_alias", "source", "claim", "appearance", "mention", "topic", "claim_topic"]
    before = {t: await count(db, t) for t in tables}
    second = await write_source_document(db, document)
    assert first.changed and not second.changed
    assert {t: await count(db, t) for t in tables} == before


async def test_a_document_with_a_bad_reference_is_rejected_whole(db: Database) -> None:
    bad = doc(
        "https://tass.example/1",
        quote("First claim."),
        quote("Second claim.", {"id": 999_999}),
    )
    with pytest.raises(DocumentError) as err:
        await write_source_document(db, bad)
    assert err.value.field == "claims[1].speakers[0].entity.id"
    for table in ["entity", "source", "claim", "appearance"]:
        assert await count(db, table) == 0, table


def test_an_invalid_field_is_rejected_with_its_path() -> None:
    with pytest.raises(ValidationError) as err:
        doc(
            "https://tass.example/1",
            quote("Fine."),
            {"content": "x", "kind": "rumour", "speakers": [{"entity": MERZ}]},
        )
    locs = [e["loc"] for e in err.value.errors()]
    assert ("claims", 1, "kind") in locs


@pytest.mark.parametrize("said_at", ["0000-01-01", "99999-01-01", "1066-10-14"])
def test_impossible_dates_are_rejected(said_at: str) -> None:
    with pytest.raises(ValidationError):
        doc("https://tass.example/1", quote("Fine.", said_at=said_at))


def test_a_span_that_does_not_cover_the_quote_is_rejected() -> None:
    with pytest.raises(ValidationError, match="span"):
        doc(
            "https://tass.example/1",
            {**quote("Hello"), "appearance": {"quote": "Hello", "span": [0, 5]}},
            text="Well, Hello there",
        )


async def test_concurrent_writers_of_overlapping_documents_create_no_duplicates(db: Database) -> None:
    people = [{"name": n, "kind": "person"} for n in ["Ann Lee", "Bo Chan", "Cy Dorn"]]
    documents = [
        doc(
            f"https://outlet{i}.example/story",
            *[quote(f"Quote number {j}.", people[j % 3]) for j in range(6)],
            publisher=f"Outlet {i % 2}",
        )
        for i in range(8)
    ]
    await asyncio.gather(*(write_source_document(db, d) for d in documents))
    assert await db.fetchval("SELECT count(*) FROM entity WHERE kind = 'person'") == 3
    assert await db.fetchval("SELECT count(*) FROM entity WHERE kind = 'organization'") == 2
    assert await count(db, "claim") == 6
    assert await count(db, "appearance") == 48


async def test_speaker_feed_rows_follow_the_claims_date(db: Database) -> None:
    result = await write_source_document(db, doc("https://a.example/1", quote("Dated.")))
    claim_id = result.claims[0].id
    await db.execute("UPDATE claim SET said_at = '2020-01-01', said_at_precision = 'day' WHERE id = $1", claim_id)
    key = await db.fetchval("SELECT said_key FROM claim_speaker WHERE claim_id = $1", claim_id)
    assert key.year == 2020


async def test_a_claim_given_twice_in_one_document_is_one_claim_created_and_reported_once(db: Database) -> None:
    starmer = {"name": "Keir Starmer", "kind": "person"}
    result = await write_source_document(
        db,
        doc(
            "https://tass.example/twice",
            {**quote("We stand with Ukraine."), "appearance": {"quote": "We stand with Ukraine, he said."}},
            quote("Talks must continue.", starmer, mentions=[MERZ], topics=["diplomacy"]),
            {**quote("We stand with Ukraine."), "appearance": {"quote": "Another wording."}},
        ),
    )
    first, other, again = result.claims
    assert (first.created, first.appearance_created) == (True, True)
    assert (other.created, other.appearance_created) == (True, True)
    assert (again.id, again.created, again.appearance_created) == (first.id, False, False)
    assert await count(db, "claim") == 2
    assert await db.fetchval("SELECT quote FROM appearance WHERE claim_id = $1", first.id) == (
        "We stand with Ukraine, he said."
    )
    speakers = await db.fetch("SELECT claim_id, position FROM claim_speaker ORDER BY claim_id")
    assert [(r["claim_id"], r["position"]) for r in speakers] == [(first.id, 0), (other.id, 0)]
    assert await db.fetchval("SELECT count(*) FROM mention WHERE claim_id = $1", other.id) == 1
    assert await db.fetchval("SELECT count(*) FROM claim_topic WHERE claim_id = $1", other.id) == 1


async def test_a_claim_is_first_reported_by_its_earliest_source(db: Database) -> None:
    said = {**quote("Borders must not be changed by force."), "said_at": "2024-12-01"}
    first_reported = "SELECT first_reported_at::date::text FROM claim WHERE id = $1"
    may = await write_source_document(db, doc("https://a.example/may", said, published_at="2025-05-01T00:00:00Z"))
    assert await db.fetchval(first_reported, may.claims[0].id) == "2025-05-01"
    await write_source_document(db, doc("https://a.example/jan", said, published_at="2025-01-01T00:00:00Z"))
    await write_source_document(db, doc("https://a.example/sep", said, published_at="2025-09-01T00:00:00Z"))
    unquoted = await write_source_document(
        db, doc("https://a.example/none", {k: v for k, v in quote("No quote here.").items() if k != "appearance"})
    )
    assert await db.fetchval(first_reported, may.claims[0].id) == "2025-01-01"
    # A claim without an appearance appears in its document all the same, as its content.
    assert await db.fetchval(first_reported, unquoted.claims[0].id) == "2025-11-26"


async def test_a_documents_names_are_looked_up_in_one_round_trip_and_created_in_another(db: Database) -> None:
    from db import writes

    merz = (await write_source_document(db, doc("https://tass.example/m", quote("Hello.")))).claims[0].id
    merz_entity = await db.fetchval("SELECT entity_id FROM claim_speaker WHERE claim_id = $1", merz)
    statements: list[str] = []
    db.statement_listeners.append(statements.append)

    result = await write_source_document(
        db,
        doc(
            "https://reuters.example/1",
            quote("Talks go on.", {"name": "merz", "kind": "person"}, mentions=[{"name": "Olaf Scholz"}]),
            quote("We agree.", {"name": "Keir Starmer", "kind": "person", "aliases": ["Starmer"]}),
            publisher="Reuters",
        ),
    )

    assert statements.count(writes.ALIAS_CANDIDATES) == 1
    assert statements.count(writes.INSERT_ENTITIES) == 1
    assert writes.ENTITIES_BY_ID not in statements and writes.ENTITIES_BY_EXTERNAL_ID not in statements
    assert result.entities_created == 3  # "merz" is Friedrich Merz
    speakers = [
        await db.fetchval("SELECT entity_id FROM claim_speaker WHERE claim_id = $1", c.id) for c in result.claims
    ]
    assert speakers[0] == merz_entity
    rows = await db.fetch("SELECT name, kind FROM entity WHERE id > $1 ORDER BY id", merz_entity)
    assert [(r["name"], r["kind"]) for r in rows] == [
        ("Reuters", "organization"),  # in the order the document names them: publisher, then claim by claim
        ("Olaf Scholz", "other"),
        ("Keir Starmer", "person"),
    ]
    aliases = await db.fetch("SELECT alias FROM entity_alias WHERE entity_id = $1 ORDER BY alias", speakers[1])
    assert [r["alias"] for r in aliases] == ["Keir Starmer", "Starmer"]


async def test_names_a_document_shares_between_references_resolve_one_by_one_to_one_entity(db: Database) -> None:
    result = await write_source_document(
        db,
        doc(
            "https://tass.example/overlap",
            quote("Borders matter.", {"name": "Merz", "kind": "person"}),
            quote("So do treaties.", MERZ),  # Friedrich Merz, also known as "Merz"
        ),
    )
    speakers = {
        await db.fetchval("SELECT entity_id FROM claim_speaker WHERE claim_id = $1", c.id) for c in result.claims
    }
    assert len(speakers) == 1


async def test_a_reference_finds_what_an_earlier_reference_of_the_same_document_added(db: Database) -> None:
    starmer = await write_source_document(db, doc("https://a.example/s", quote("Hi.", {"name": "Keir Starmer"})))
    starmer_id = await db.fetchval("SELECT entity_id FROM claim_speaker WHERE claim_id = $1", starmer.claims[0].id)
    merz = {**MERZ, "external_ids": {"wikidata": "Q2514"}, "roles": [{"title": "Chancellor of Germany"}]}
    result = await write_source_document(
        db,
        doc(
            "https://b.example/1",
            quote("Created with its id.", merz),
            quote("Found by that id.", {"external_ids": {"wikidata": "Q2514"}}),
            quote("Given a new alias.", {"id": starmer_id, "aliases": ["Sir Keir"]}),
            quote("Found by it.", {"name": "sir keir", "kind": "person"}),
        ),
    )
    speakers = [
        await db.fetchval("SELECT entity_id FROM claim_speaker WHERE claim_id = $1", c.id) for c in result.claims
    ]
    assert speakers[0] == speakers[1] and speakers[2] == speakers[3] == starmer_id
    assert result.entities_created == 1
    assert await db.fetchval("SELECT entity_id FROM entity_external_id WHERE value = 'Q2514'") == speakers[0]
    assert (
        await db.fetchval("SELECT title FROM entity_role WHERE entity_id = $1", speakers[0]) == "Chancellor of Germany"
    )
    again = await write_source_document(db, doc("https://b.example/1", quote("Found by it.", {"name": "Sir Keir"})))
    assert not again.changed
