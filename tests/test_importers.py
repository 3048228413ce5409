"""`claims load`: NDJSON, ClaimsKG and Quotebank files streamed into the store, bad records reported.

The ClaimsKG and Quotebank tests read the real files in ../shared/data (skipped, saying so, when
that folder is absent), a few hundred records of each to stay quick.
"""

from __future__ import annotations

import asyncio
import bz2
import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api.cli import main
from api.importers import detect_format, load_files
from api.importers.claimskg import clean_text, site
from api.importers.quotebank import python_list
from db import sources as store
from db.database import Database, DatabaseUnavailable
from db.demo_data import load_demo
from tests.helpers import DATA_TABLES

ROWS = 100  # per ClaimsKG topic file


async def export(db: Database) -> list[dict[str, object]]:
    chunks = [c async for c in store.export_documents(db, store.SourceFilter(None, None, None))]
    return [json.loads(line) for line in b"".join(chunks).splitlines() if line.strip()]


async def counts(db: Database) -> dict[str, int]:
    tables = ("claim", "source", "appearance", "entity", "claim_topic", "topic")
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in tables}


def claimskg_rows(folder: Path, limit: int) -> list[tuple[str, dict[str, str]]]:
    rows = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            rows += [(path.stem, row) for _, row in zip(range(limit), csv.DictReader(f), strict=False)]
    return rows


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


async def test_an_export_loads_back_into_an_empty_store_unchanged(db: Database, tmp_path: Path) -> None:
    await load_demo(db)
    before = await export(db)
    dump = tmp_path / "export.ndjson"
    dump.write_text("\n".join(json.dumps(d) for d in before) + "\n", encoding="utf-8")
    await db.execute(DATA_TABLES)
    report = await load_files(db, [dump])
    assert (report.records, report.written, report.failed) == (len(before), len(before), 0)
    # Four writers load concurrently, so ids (and the export's order) may differ; the documents may not.
    assert sorted(map(canonical, await export(db))) == sorted(map(canonical, before))
    again = await load_files(db, [dump])
    assert again.unchanged == again.documents == len(before)


async def test_bad_ndjson_lines_are_reported_by_line_and_field_and_the_rest_written(
    db: Database, tmp_path: Path
) -> None:
    good = {"source": {"kind": "statement", "title": "A statement"}, "claims": []}
    bad_date = {
        "source": {"kind": "statement", "title": "Another"},
        "claims": [{"content": "Hi.", "said_at": "2025-13-01", "speakers": [{"entity": {"name": "A B"}}]}],
    }
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(good), "{not json", "", json.dumps(bad_date), json.dumps({**good, "source": {"kind": "x"}})]
    path.write_text("\n".join([*lines, json.dumps({**good, "source": {"kind": "other", "title": "Last"}})]))
    report = await load_files(db, [path], "auto")
    assert (report.records, report.written, report.failed) == (5, 2, 3)
    failures = {(f.line, f.field) for f in report.failures}
    assert (2, "") in failures
    assert (4, "claims[0].said_at") in failures
    assert {line for line, _ in failures} == {2, 4, 5}
    assert report.summary()["failures"][0]["file"] == "mixed.jsonl"
    assert await db.fetchval("SELECT count(*) FROM source") == 2


@pytest.mark.shared_data
async def test_claimskg_topic_files_load_as_one_claim_per_statement_with_every_topic(
    db: Database, shared_data: Path
) -> None:
    folder = shared_data / "claimskg"
    rows = claimskg_rows(folder, ROWS)
    statements = {(r["claimer"].strip(), clean_text(r["text"], r["claimer"].strip())) for _, r in rows}
    assert len(statements) < len(rows), "the sample should hold claims listed in several topic files"
    files = sorted(folder.glob("*.csv"))
    assert {detect_format(f) for f in files} == {"claimskg"}
    report = await load_files(db, files, limit=ROWS)
    assert (report.records, report.failed) == (len(rows), 0)
    assert report.claims_created == len(statements) == await db.fetchval("SELECT count(*) FROM claim")
    assert report.sources_created == len({r["review_url"] for _, r in rows})
    # A statement from two topic files is one claim carrying both files' topics.
    topics = await db.fetch(
        "SELECT c.id, array_agg(t.slug) AS slugs FROM claim c JOIN claim_topic ct ON ct.claim_id = c.id "
        "JOIN topic t ON t.id = ct.topic_id GROUP BY c.id"
    )
    stems = {f.stem for f in files}
    assert any(len(stems & set(r["slugs"])) >= 2 for r in topics)
    stale = "SELECT count(*) FROM claim_speaker s JOIN claim c ON c.id = s.claim_id WHERE s.said_key <> c.said_key"
    assert await db.fetchval(stale) == 0
    publishers = {
        r[0] for r in await db.fetch("SELECT DISTINCT e.name FROM source s JOIN entity e ON e.id = s.publisher_id")
    }
    assert publishers == {site(r["review_url"])[0] for _, r in rows} and "PolitiFact" in publishers
    kinds = {r["kind"] for r in await db.fetch("SELECT DISTINCT kind FROM claim")}
    assert kinds == {"direct_quote", "paraphrase"}
    before = await counts(db)
    again = await load_files(db, files, limit=ROWS)
    assert (again.claims_created, again.sources_created, again.appearances_created, again.entities_created) == (
        0,
        0,
        0,
        0,
    )
    assert await counts(db) == before


@pytest.mark.shared_data
async def test_the_claimskg_row_said_in_2056_fails_naming_claim_date(
    db: Database, shared_data: Path, tmp_path: Path
) -> None:
    # The real row (taxes.csv line 584) with its neighbour, copied so the test reads two rows, not 584.
    with (shared_data / "claimskg" / "taxes.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    future = next(i for i, r in enumerate(rows) if r["claim_date"].startswith("2056"))
    sample = tmp_path / "taxes.csv"
    with sample.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(reader.fieldnames or []), quoting=csv.QUOTE_NONNUMERIC)
        writer.writeheader()
        writer.writerows([rows[future - 1], rows[future]])
    report = await load_files(db, [sample])
    assert (report.records, report.written, report.failed) == (2, 1, 1)
    [failure] = report.failures
    assert (failure.line, failure.field) == (3, "claim_date")
    assert "future" in failure.reason
    assert await db.fetchval("SELECT count(*) FROM source") == 1  # nothing half-written


@pytest.mark.shared_data
async def test_quotebank_quotations_become_claims_by_the_wikidata_speaker_with_one_appearance_per_url(
    db: Database, shared_data: Path
) -> None:
    path = shared_data / "quotebank" / "musk-2020.csv.bz2"
    with bz2.open(path, "rt", newline="", encoding="utf-8") as f:
        rows = [row for _, row in zip(range(25), csv.DictReader(f), strict=False)]
    assert detect_format(path) == "quotebank"
    report = await load_files(db, [path], limit=25)
    assert (report.records, report.failed) == (25, 0)
    assert await db.fetchval("SELECT count(*) FROM claim") == 25
    speakers = await db.fetch(
        "SELECT DISTINCT e.name, x.value FROM claim_speaker s JOIN entity e ON e.id = s.entity_id "
        "JOIN entity_external_id x ON x.entity_id = e.id AND x.scheme = 'wikidata'"
    )
    assert [tuple(r) for r in speakers] == [("Elon Musk", "Q317521")]
    per_claim = await db.fetch(
        "SELECT c.content, count(*) AS n FROM claim c JOIN appearance a ON a.claim_id = c.id GROUP BY c.id"
    )
    expected = {r["quotation"].strip(): len(set(python_list(r["urls"]))) for r in rows}
    assert {r["content"]: r["n"] for r in per_claim} == expected
    outlets = await db.fetch(
        "SELECT s.url, e.name FROM source s JOIN entity e ON e.id = s.publisher_id WHERE s.url LIKE '%cnbc.com%'"
    )
    assert all(r["name"] == "cnbc.com" for r in outlets)


def test_claims_load_reports_json_and_fails_only_when_nothing_was_written(
    db: Database, server_dsn: str, tmp_path: Path
) -> None:
    good = tmp_path / "good.ndjson"
    good.write_text(json.dumps({"source": {"kind": "statement", "title": "A statement"}}) + "\n{broken\n")
    bad = tmp_path / "bad.ndjson"
    bad.write_text("{broken\n")
    env = {**os.environ, "CLAIMS_DATABASE_URL": server_dsn, "CLAIMS_LOAD_DEMO": "false"}
    runner = CliRunner()
    result = runner.invoke(main, ["load", "--quiet", "--json", str(good)], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["written"], summary["failed"], summary["failures"][0]["line"]) == (1, 1, 2)
    result = runner.invoke(main, ["load", "--quiet", "--format", "ndjson", str(bad)], env=env)
    assert result.exit_code == 1


async def test_unreadable_csv_records_are_failures_at_their_lines(db: Database, tmp_path: Path) -> None:
    header = b'"claim","review_url","claimer","text","headline","keywords","claim_date"\n'

    def row(n: int, claimer: bytes = b"Jane Roe", date: bytes = b"2019-05-01") -> bytes:
        url = b"http://www.politifact.com/truth-o-meter/statements/2019/may/02/x/%d/" % n
        return b'"c%d","%s","%s","Says %d.","Headline %d","Taxes",%s\n' % (n, url, claimer, n, n, date)

    path = tmp_path / "mixed.csv"
    path.write_bytes(
        header + row(1) + row(2, claimer=b"J\xe9 Roe") + b'"only","three","fields"\n' + row(4, b"") + row(5)
    )
    report = await load_files(db, [path])
    assert detect_format(path) == "claimskg"
    assert (report.records, report.written, report.failed) == (5, 2, 3)
    assert [(f.line, f.field) for f in report.failures] == [(3, "claimer"), (4, ""), (5, "claimer")]
    assert await db.fetchval("SELECT count(*) FROM claim") == 2


@pytest.mark.shared_data
async def test_a_truncated_quotebank_file_keeps_what_was_read_and_reports_where_it_ends(
    db: Database, shared_data: Path, tmp_path: Path
) -> None:
    # Two bz2 streams (as `cat a.bz2 b.bz2` makes): the first whole, the second cut short.
    with bz2.open(shared_data / "quotebank" / "musk-2020.csv.bz2", "rb") as f:
        lines = f.read().splitlines(keepends=True)[:13]
    second = bz2.compress(b"".join(lines[6:]))
    cut = tmp_path / "cut.csv.bz2"
    cut.write_bytes(bz2.compress(b"".join(lines[:6])) + second[: len(second) // 2])
    report = await load_files(db, [cut])
    assert (report.written, report.failed) == (5, 1)
    [failure] = report.failures
    assert failure.line == 7 and "ends here" in failure.reason
    assert await db.fetchval("SELECT count(*) FROM claim") == 5


async def test_a_database_that_goes_away_stops_the_load_with_an_error_instead_of_hanging(
    server_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "many.ndjson"
    path.write_text("".join(json.dumps({"source": {"kind": "other", "title": f"T{i}"}}) + "\n" for i in range(100)))
    gone = Database(server_dsn)  # never connected: every statement raises DatabaseUnavailable
    with pytest.raises(DatabaseUnavailable):
        await asyncio.wait_for(load_files(gone, [path]), timeout=30)
