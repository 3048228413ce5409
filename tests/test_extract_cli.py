"""`claims extract`: NDJSON out, one line per article; `--write` imports once and adds nothing the second time."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import asyncpg
from click.testing import CliRunner

from api.cli import main
from db.database import Database
from tests.articles import ARTICLE


def run(args: list[str], dsn: str) -> tuple[int, list[dict[str, object]], str]:
    env = {**os.environ, "CLAIMS_DATABASE_URL": dsn, "CLAIMS_LOAD_DEMO": "false"}
    result = CliRunner().invoke(main, ["extract", "--quiet", *args], env=env)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


def test_a_text_file_gives_one_line_with_its_document_and_attributions(server_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "doe.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    code, lines, _ = run([str(path), "--date", "2025-11-26", "--url", "https://example.com/doe"], server_dsn)
    assert code == 0
    [line] = lines
    assert line["id"] == "doe"
    document = line["document"]
    assert isinstance(document, dict)
    assert document["source"]["url"] == "https://example.com/doe"
    assert document["source"]["published_at"] == "2025-11-26"
    attributions = line["attributions"]
    assert isinstance(attributions, list) and attributions
    for att in attributions:
        assert set(att) >= {"claim", "cue", "source", "content", "confidence"}


def test_jsonl_lines_are_extracted_in_order_and_bad_lines_answered_with_a_reason(
    server_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "articles.jsonl"
    rows = [
        json.dumps({"id": "a", "text": ARTICLE, "date": "2025-11-26", "publisher": "Example Wire"}),
        json.dumps({"id": "b", "text": "   "}),
        "{not json",
        json.dumps({"id": "d", "text": ARTICLE, "colour": "red"}),
        json.dumps({"id": "e", "text": ARTICLE, "date": "26/11/2025"}),
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, lines, _ = run([str(path)], server_dsn)
    assert code == 0  # one article succeeded
    assert [line["id"] for line in lines] == ["a", "b", "articles.jsonl:3", "d", "e"]
    assert lines[0]["document"]["source"]["publisher"]["name"] == "Example Wire"  # type: ignore[index]
    errors = [line["error"] for line in lines[1:]]
    assert [e["field"] for e in errors] == ["text", "line", "colour", "date"]  # type: ignore[index]


def test_binary_files_fail_with_a_reason_and_a_nonzero_status(server_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    code, lines, _ = run([str(path)], server_dsn)
    assert code == 1
    assert lines[0]["error"] == {"field": "text", "reason": "is binary data (it contains NUL bytes), not text"}


def count(dsn: str, table: str) -> int:
    """A row count on a connection of its own (the CLI runs its own event loop, so this test is sync)."""

    async def fetch() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
        finally:
            await conn.close()

    return asyncio.run(fetch())


def test_write_imports_the_documents_once_and_a_second_run_adds_nothing(
    db: Database, server_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "doe.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    code, lines, report = run([str(path), "--date", "2025-11-26", "--write"], server_dsn)
    assert code == 0, report
    document = lines[0]["document"]
    assert isinstance(document, dict)
    claims = count(server_dsn, "claim")
    assert claims == len(document["claims"]) > 0
    sources = count(server_dsn, "source")
    code, _, report = run([str(path), "--date", "2025-11-26", "--write"], server_dsn)
    assert code == 0, report
    assert count(server_dsn, "claim") == claims
    assert count(server_dsn, "source") == sources
    summary = json.loads(report.splitlines()[-2])
    assert (summary["claims_created"], summary["sources_created"], summary["unchanged"]) == (0, 0, 1)
