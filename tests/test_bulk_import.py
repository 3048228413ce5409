"""`claims load` writes runs of documents in one transaction (db/bulk.py) with the outcome of writing
them one at a time: the same file loaded both ways into two fresh databases gives the same rows.
Several writers at once give them too: a batch waits for the earlier ones in flight that may find or
create the same rows (api/importers/order.py; which batches meet is tests/test_footprints.py's).

The reference is the loader as it was: `write_record` for each record in file order, one
transaction per document.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.importers import LoadReport, load_files
from api.importers.loader import write_chunk, write_record
from api.importers.ndjson import read_ndjson
from api.importers.order import Order
from api.importers.records import Parsed
from db.bulk import batchable
from db.database import Database
from db.footprints import Footprint
from db.migrate import migrate
from schema.documents import SourceDocument
from tests.helpers import PERSON, claim, document, speaker, with_database


def lines(refused: bool) -> list[str]:
    """A file exercising every identity rule across documents; line numbers are list index + 1."""
    merz = speaker("Friedrich Merz", aliases=["Merz"])
    docs: list[dict[str, Any] | str] = [
        document(
            "https://a.example/1",
            claim(
                "Security guarantees must be robust.",
                merz,
                topics=["ukraine"],
                mentions=[{"name": "Ukraine", "kind": "place"}],
            ),
            published_at="2025-11-26",
        ),
        # The same quote (other punctuation and case of the speaker): one claim, reported earlier here.
        document(
            "https://b.example/2",
            claim("Security guarantees  must be robust!", speaker("MERZ"), quote="guarantees must be robust"),
            publisher="reuters",
            published_at="2025-11-25T08:00:00Z",
        ),
        # The same URL again (another spelling of it): one source, given its text and language now.
        document(
            "https://A.EXAMPLE/1#top",
            claim("We are ready to act.", speaker("emmanuel macron")),
            published_at="2025-11-26",
            language="en",
            text="We are ready to act.",
        ),
        document(
            "https://c.example/3",
            claim("Europe must do more.", speaker("Friédrich MERZ"), speaker("Emmanuel Macron", role="co_signatory")),
            claim("We are ready to act.", speaker("Emmanuel Macron")),
            published_at="2025-11-24",
            authors=[{"name": "Jane Roe", "kind": "person"}, {"name": "John Doe", "kind": "person"}],
        ),
        "{not json",
        # An entity by external id and one by id (the first entity: the first document's publisher).
        document(
            "https://d.example/4",
            claim(
                "Talks will continue.",
                speaker("Friedrich Merz", external_ids={"wikidata": "Q2514"}),
                mentions=[{"id": 1}],
            ),
            published_at="2025-11-27",
        ),
        # Two references normalising alike (speaker and mention), and one name as two kinds.
        document(
            "https://e.example/5",
            claim(
                "Paris is where we meet.",
                speaker("Keir Starmer"),
                mentions=[{"name": "KEIR STARMER"}, {"name": "Paris", "kind": "place"}],
                location={"name": "Paris", "kind": "place"},
            ),
            claim("I am Paris.", speaker("Paris", PERSON)),
            topics=[{"slug": "europe", "name": "Europe"}],
            published_at="2025-11-28",
        ),
        # The same entity twice as a speaker once names are resolved: refused, whichever writer.
        document("https://f.example/6", claim("Twice over.", speaker("Merz"), speaker("Friedrich Merz"))),
        # Relations: written alone.
        document(
            "https://g.example/7",
            claim("First.", speaker("Olaf Scholz")),
            claim("Second.", speaker("olaf scholz"), relations=[{"kind": "supports", "claim_index": 0}]),
        ),
        # No URL: found again by kind, title, publisher and date.
        document(
            None, claim("Untitled one.", speaker("Ursula von der Leyen")), title="Brief", published_at="2025-11-01"
        ),
        document(
            None, claim("Untitled two.", speaker("URSULA VON DER LEYEN")), title="brief", published_at="2025-11-01"
        ),
        # The same claim twice in one document, and a claim without an appearance.
        document(
            "https://h.example/8",
            claim("Repeat after me.", speaker("Mark Rutte")),
            claim("Repeat after me.", speaker("Mark Rutte"), quote="after me"),
            claim("Not printed.", speaker("Mark Rutte"), quote=""),
            published_at="2025-11-29",
        ),
        # A name without a kind is an entity of kind "other", which a later kind finds.
        document(
            "https://i.example/9",
            claim("Not printed.", speaker("mark rutte"), mentions=[{"name": "NATO"}]),
            claim("We stand together.", speaker("Nato", "organization")),
            published_at="2025-11-02",
        ),
    ]
    if refused:  # a topic name longer than the database takes (pydantic takes up to 500 characters)
        docs.append(
            {
                **document("https://j.example/10", claim("Refused.", speaker("Nobody New"))),
                "topics": [{"slug": "long", "name": "x" * 300}],
            }
        )
    for i in range(30):  # enough to span several batches, sharing speakers and publishers
        docs.append(
            document(
                f"https://bulk.example/{i}",
                *(claim(f"Filler {i}-{k}.", speaker(f"Person {(i * 3 + k) % 7}")) for k in range(3)),
                claim("Security guarantees must be robust.", merz) if i % 10 == 9 else claim("Hi.", speaker("Merz")),
                publisher=f"Outlet {i % 4}",
                published_at=f"2025-10-{1 + i % 28:02d}",
            )
        )
    return [d if isinstance(d, str) else json.dumps(d) for d in docs]


@asynccontextmanager
async def new_databases(server_dsn: str, n: int) -> AsyncIterator[list[Database]]:
    """``n`` new, migrated databases on the test server, dropped afterwards."""
    names = [f"claimsbase_bulk_{uuid.uuid4().hex[:8]}" for _ in range(n)]
    admin = await asyncpg.connect(server_dsn)
    dbs = []
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
            await migrate(with_database(server_dsn, name))
            db = Database(with_database(server_dsn, name), statement_timeout_ms=20_000, min_size=1, max_size=6)
            await db.connect()
            dbs.append(db)
        yield dbs
    finally:
        for db in dbs:
            await db.close()
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def fresh(server_dsn: str) -> AsyncIterator[list[Database]]:
    """Two new, migrated databases on the test server, dropped afterwards."""
    async with new_databases(server_dsn, 2) as dbs:
        yield dbs


async def one_at_a_time(db: Database, path: Path) -> LoadReport:
    """The loader as it was: each record's documents in file order, one transaction each."""
    report = LoadReport(files=[str(path)])
    for parsed in read_ndjson(path):
        await write_record(db, path.name, parsed, report)
    return report


# Rows by natural keys: an entity by name and kind, a source by URL or what identifies it without one
# (its key hashes the publisher's id), a claim by content and speakers (its fingerprint hashes ids).
ENTITY = "(SELECT jsonb_build_array(x.name, x.kind) FROM entity x WHERE x.id = {})"
SOURCE = (
    "(SELECT jsonb_build_array(x.url, x.kind, x.title, x.published_at, p.name) "
    "FROM source x LEFT JOIN entity p ON p.id = x.publisher_id WHERE x.id = {})"
)
CLAIM = (
    "(SELECT jsonb_build_array(k.content, (SELECT jsonb_agg(jsonb_build_array(x.name, x.kind) ORDER BY x.name) "
    "FROM claim_speaker cs JOIN entity x ON x.id = cs.entity_id WHERE cs.claim_id = k.id)) "
    "FROM claim k WHERE k.id = {})"
)


async def contents(db: Database) -> dict[str, Any]:
    """Every row that writing documents makes, by natural keys."""
    e, s, c = ENTITY.format, SOURCE.format, CLAIM.format
    queries = {
        "entity": "SELECT name, kind, name_norm, description, merged_into FROM entity",
        "alias": f"SELECT {e('a.entity_id')}, alias, norm FROM entity_alias a",
        "external_id": f"SELECT {e('i.entity_id')}, scheme, value FROM entity_external_id i",
        "topic": "SELECT slug, name FROM topic",
        "source": f"SELECT {s('o.id')}, language, text FROM source o",
        "author": f"SELECT {s('source_id')}, {e('entity_id')}, position FROM source_author",
        "claim": (
            f"SELECT {c('o.id')}, kind, language, said_at, said_at_precision, {e('location_id')}, "
            "first_reported_at, said_key, reported_key, deleted_at FROM claim o"
        ),
        "speaker": f"SELECT {c('claim_id')}, {e('entity_id')}, role, position, said_key FROM claim_speaker",
        "appearance": (
            f"SELECT {c('claim_id')}, {s('source_id')}, quote, span_start, span_end, {s('cited_source_id')} "
            "FROM appearance"
        ),
        "mention": f"SELECT {c('claim_id')}, {e('entity_id')}, said_key FROM mention",
        "claim_topic": (
            f"SELECT {c('claim_id')}, (SELECT slug FROM topic WHERE id = topic_id), said_key FROM claim_topic"
        ),
        "relation": f"SELECT {c('claim_id')}, {c('related_claim_id')}, kind FROM claim_relation",
    }
    return {table: sorted(repr(tuple(r)) for r in await db.fetch(sql)) for table, sql in queries.items()}


async def creation_order(db: Database) -> dict[str, list[str]]:
    """Rows in id order, by natural keys. The ids themselves differ: an INSERT … ON CONFLICT DO
    NOTHING that finds the row draws an identity value all the same, and so does a rolled-back batch."""
    queries = {
        "entity": f"SELECT {ENTITY.format('o.id')} FROM entity o ORDER BY id",
        "source": f"SELECT {SOURCE.format('o.id')} FROM source o ORDER BY id",
        "claim": f"SELECT {CLAIM.format('o.id')} FROM claim o ORDER BY id",
        "appearance": f"SELECT {CLAIM.format('claim_id')}, {SOURCE.format('source_id')} FROM appearance ORDER BY id",
        "topic": "SELECT slug FROM topic ORDER BY id",
    }
    return {table: [repr(tuple(r)) for r in await db.fetch(sql)] for table, sql in queries.items()}


def outcome(report: LoadReport) -> dict[str, Any]:
    summary = asdict(report)
    summary.pop("seconds")
    summary["failures"] = sorted(summary["failures"], key=lambda f: f["line"])
    return summary


@pytest.mark.parametrize("refused", [False, True], ids=["all-written", "one-refused-by-the-database"])
async def test_a_file_loaded_in_batches_gives_the_rows_and_report_of_loading_it_one_document_at_a_time(
    fresh: list[Database], tmp_path: Path, refused: bool
) -> None:
    path = tmp_path / "mixed.ndjson"
    path.write_text("\n".join(lines(refused)) + "\n", encoding="utf-8")
    alone, batched = fresh
    expected = await one_at_a_time(alone, path)
    report = await load_files(batched, [path], workers=1, batch=5)
    assert outcome(report) == outcome(expected)
    assert {(f.line, f.field) for f in report.failures} >= {(5, ""), (8, "claims[0].speakers")}
    assert report.failed == 2 + refused
    assert await contents(batched) == await contents(alone)
    assert await creation_order(batched) == await creation_order(alone)
    # The file holds what the batched path is for, and what it leaves to the one-document writer.
    docs = [SourceDocument.model_validate_json(line) for line in lines(refused) if line != "{not json"]
    assert sum(map(batchable, docs)) == len(docs) - 2


async def test_a_bad_document_is_reported_on_its_own_line_and_the_rest_of_its_batch_is_written(
    db: Database, tmp_path: Path
) -> None:
    docs = [document(f"https://x.example/{i}", claim(f"Said {i}.", speaker(f"P {i % 3}"))) for i in range(10)]
    docs[5] = document("https://x.example/5", claim("Twice.", speaker("P 1"), speaker("p 1", aliases=["P 2"])))
    path = tmp_path / "one-bad.ndjson"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    report = await load_files(db, [path], workers=1, batch=10)
    assert (report.records, report.written, report.failed) == (10, 9, 1)
    assert [(f.line, f.field) for f in report.failures] == [(6, "claims[0].speakers")]
    assert (report.sources_created, report.claims_created, report.entities_created) == (9, 9, 4)  # with the publisher
    written = {r[0] for r in await db.fetch("SELECT url FROM source")}
    assert written == {f"https://x.example/{i}" for i in range(10) if i != 5}
    assert await db.fetchval("SELECT count(*) FROM appearance") == 9


async def test_loading_a_file_twice_in_batches_changes_nothing(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "twice.ndjson"
    path.write_text("\n".join(lines(refused=True)) + "\n", encoding="utf-8")
    first = await load_files(db, [path], batch=7)
    before = (await contents(db), await creation_order(db))
    again = await load_files(db, [path], batch=7)
    assert (again.written, again.failed) == (first.written, first.failed)
    assert again.unchanged == again.documents == first.documents
    created = (again.sources_created, again.claims_created, again.appearances_created, again.entities_created)
    assert created == (0, 0, 0, 0)
    assert (await contents(db), await creation_order(db)) == before


def side_by_side() -> list[str]:
    """Documents whose batches meet on nothing once their speakers and outlets exist, so that several
    writers take them at once; among them one names "Baerbock" twice, a few batches after the
    document that makes "Baerbock" an alias of Annalena Baerbock (refused in file order)."""
    people = [f"Member {i}" for i in range(6)]
    docs = [
        document(f"https://intro.example/{i}", claim(f"Hello from {name}.", speaker(name)), publisher=f"Outlet {i % 4}")
        for i, name in enumerate(people)
    ]
    for i in range(40):
        docs.append(
            document(
                f"https://apart.example/{i}",
                claim(f"Apart {i}.", speaker(people[i % 6])),
                claim(f"Apart {i}, again.", speaker(people[(i + 1) % 6]), topics=["apart"]),
                publisher=f"Outlet {i % 4}",
            )
        )
        if i == 20:
            docs.append(
                document("https://g.example/1", claim("Allies.", speaker("Annalena Baerbock", aliases=["Baerbock"])))
            )
        if i == 26:
            docs.append(
                document("https://g.example/2", claim("Twice.", speaker("Baerbock"), speaker("Annalena Baerbock")))
            )
    return [json.dumps(d) for d in docs]


async def test_a_file_loaded_by_four_writers_gives_the_outcome_of_file_order_every_time(
    server_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "shared.ndjson"
    file = lines(refused=True) + side_by_side()
    path.write_text("\n".join(file) + "\n", encoding="utf-8")
    counts = "SELECT (SELECT count(*) FROM entity), (SELECT count(*) FROM claim), (SELECT count(*) FROM appearance)"
    async with new_databases(server_dsn, 1) as [alone]:
        expected = await one_at_a_time(alone, path)
        twice = {(i, "claims[0].speakers") for i, line in enumerate(file, 1) if "Twice" in line}
        assert len(twice) == 2 and {(f.line, f.field) for f in expected.failures} >= twice  # Merz, Baerbock
        for _ in range(3):  # whichever order the batches commit in, the outcome is the file's
            async with new_databases(server_dsn, 1) as [batched]:
                report = await load_files(batched, [path], workers=4, batch=3)
                assert outcome(report) == outcome(expected)
                assert tuple(await batched.fetchrow(counts) or ()) == tuple(await alone.fetchrow(counts) or ())
                assert await contents(batched) == await contents(alone)


def batches_of(*docs: dict[str, Any]) -> list[list[Parsed]]:
    """One batch per document, the document on line 1, 2, …"""
    return [[Parsed(line, [SourceDocument.model_validate(d)])] for line, d in enumerate(docs, 1)]


INTRODUCES_MERZ = document("https://a.example/1", claim("Robust.", speaker("Friedrich Merz", aliases=["Merz"])))
BESIDE = document("https://b.example/2", claim("Elsewhere.", speaker("Olaf Scholz")), publisher="AFP")
MERZ_TWICE = document(
    "https://f.example/6", claim("Twice over.", speaker("Merz"), speaker("Friedrich Merz")), publisher="DPA"
)


async def test_a_batch_naming_merz_waits_for_the_earlier_batch_in_flight_that_makes_merz_an_alias(
    fresh: list[Database],
) -> None:
    alone, db = fresh
    batches = batches_of(INTRODUCES_MERZ, BESIDE, MERZ_TWICE)
    order = Order(db)
    first, beside, twice = (order.register(Footprint.of(batch[0].documents)) for batch in batches)
    report = LoadReport()
    # The worst order for the third batch: the first held back while the second is written.
    assert order.blockers(beside) == []
    await write_chunk(db, "f", batches[beside], report)
    order.finish(beside)
    await order.narrow(twice)  # by what the database holds now
    assert order.blockers(twice) == [first]
    await write_chunk(db, "f", batches[first], report)
    order.finish(first)
    assert order.blockers(twice) == []
    await write_chunk(db, "f", batches[twice], report)
    expected = LoadReport()
    for batch in batches:
        await write_record(alone, "f", batch[0], expected)
    assert outcome(report) == outcome(expected)
    assert [(f.line, f.field) for f in report.failures] == [(3, "claims[0].speakers")]
    assert await contents(db) == await contents(alone)


async def test_written_before_the_batch_that_makes_merz_an_alias_the_batch_naming_him_twice_would_pass(
    fresh: list[Database],
) -> None:
    """Why the batch above waits: in the other order "Merz" is a new entity, and the document is written."""
    in_order, reversed_ = fresh
    batches = batches_of(INTRODUCES_MERZ, MERZ_TWICE)
    reports = LoadReport(), LoadReport()
    for db, report, written in [(in_order, reports[0], batches), (reversed_, reports[1], batches[::-1])]:
        for batch in written:
            await write_chunk(db, "f", batch, report)
    assert (reports[0].failed, reports[0].entities_created) == (1, 2)  # Reuters, Friedrich Merz
    assert (reports[1].failed, reports[1].entities_created) == (0, 4)  # and Merz, and DPA
