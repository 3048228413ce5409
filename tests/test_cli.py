"""The `claims` command talks to people: setup errors in a sentence, progress that moves, summaries."""

from __future__ import annotations

import asyncio
import bz2
import json
import logging
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner, Result

from api.cli import main
from db.database import Database
from db.generate import PHASES, generate_corpus
from db.migrate import migrate
from tests.helpers import with_database

CLOSED_PORT = "postgresql://postgres@127.0.0.1:1/x"
COMMANDS = [["serve", "--port", "0"], ["load", "--quiet", "LOADFILE"], ["keys", "list"], ["db", "migrate"]]


def invoke(args: list[str], url: str, tmp_path: Path) -> Result:
    good = tmp_path / "one.ndjson"
    good.write_text(json.dumps({"source": {"kind": "statement", "title": "A statement"}}) + "\n")
    args = [str(good) if a == "LOADFILE" else a for a in args]
    return CliRunner().invoke(main, args, env={"CLAIMS_DATABASE_URL": url, "CLAIMS_LOAD_DEMO": "false"})


def assert_setup_error(result: Result, *expected: str) -> None:
    """Exit 2, at most two lines, naming each of ``expected``, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    message = result.stderr.strip()
    assert "Traceback" not in result.output
    assert len(message.splitlines()) <= 2, message
    for word in expected:
        assert word in message, (word, message)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0] if c[0] != "keys" else "keys list")
def test_a_closed_port_is_a_sentence_naming_the_setting_the_server_and_the_cause(
    command: list[str], tmp_path: Path
) -> None:
    result = invoke(command, CLOSED_PORT, tmp_path)
    assert_setup_error(result, "CLAIMS_DATABASE_URL", "127.0.0.1:1", 'database "x"', "connection refused")


def test_a_database_that_does_not_exist_is_named(server_dsn: str, tmp_path: Path) -> None:
    result = invoke(["keys", "list"], with_database(server_dsn, "no_such_database"), tmp_path)
    assert_setup_error(result, "CLAIMS_DATABASE_URL", 'database "no_such_database"', "does not exist")


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("mysql://root@127.0.0.1/x", "scheme"),
        ("postgresql://postgres@127.0.0.1:99999/x", "port"),
        ("postgresql://postgres@no-such-host.invalid/x", "does not resolve"),
    ],
)
def test_a_url_that_cannot_work_is_named_with_its_cause(url: str, cause: str, tmp_path: Path) -> None:
    assert_setup_error(invoke(["load", "--quiet", "LOADFILE"], url, tmp_path), "CLAIMS_DATABASE_URL", cause)


def test_the_password_in_the_url_is_never_printed(tmp_path: Path) -> None:
    result = invoke(["keys", "list"], "postgresql://postgres:s3cret-pw@127.0.0.1:1/x", tmp_path)
    assert_setup_error(result, "127.0.0.1:1")
    assert "s3cret-pw" not in result.output


def test_the_real_command_prints_no_traceback_and_debug_shows_one() -> None:
    env = {**os.environ, "CLAIMS_DATABASE_URL": CLOSED_PORT}
    claims = [sys.executable, "-m", "api.cli"]
    plain = subprocess.run([*claims, "serve"], env=env, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 2, plain.stderr
    assert plain.stderr.startswith("Error: cannot connect to PostgreSQL at 127.0.0.1:1"), plain.stderr
    assert "Traceback" not in plain.stderr and "Claimsbase on" not in plain.stderr
    debug = subprocess.run([*claims, "--debug", "keys", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "ConnectionRefusedError" in debug.stderr


def test_a_busy_port_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)], env={"CLAIMS_DATABASE_URL": CLOSED_PORT})
    assert_setup_error(result, f"127.0.0.1:{port}", "in use", "--port")
    assert "Claimsbase on" not in result.output


def test_keys_list_has_a_header_and_keys_create_help_shows_the_default_scope(server_dsn: str) -> None:
    runner = CliRunner()
    env = {"CLAIMS_DATABASE_URL": server_dsn}
    assert "[default: read]" in runner.invoke(main, ["keys", "create", "--help"]).output
    assert runner.invoke(main, ["keys", "create", "--name", "header test"], env=env).exit_code == 0
    lines = runner.invoke(main, ["keys", "list"], env=env).stdout.splitlines()
    assert lines[0].split() == ["PREFIX", "SCOPES", "STATE", "CREATED", "LAST", "USED", "NAME"]
    row = next(line for line in lines[1:] if line.endswith("header test"))
    assert re.match(r"[0-9a-f]{12} +read +active +\d{4}-\d\d-\d\d \d\d:\d\d +never +header test$", row), row
    assert lines[0].index("SCOPES") == row.index("read")  # columns line up


def test_claims_load_ends_with_a_summary_for_people_and_json_on_request(
    db: Database, server_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.ndjson"
    path.write_text(json.dumps({"source": {"kind": "statement", "title": "A statement"}}) + "\n{broken\n")
    env = {"CLAIMS_DATABASE_URL": server_dsn, "CLAIMS_LOAD_DEMO": "false"}
    human = CliRunner().invoke(main, ["load", "--quiet", str(path)], env=env)
    assert human.exit_code == 0, human.output
    lines = human.stdout.splitlines()
    assert re.match(r"Loaded 2 records from 1 file in [\d.]+ s: 1 written, 1 failed\.$", lines[0]), lines
    assert "created 0 claims, 1 source" in lines[1]
    assert lines[3].strip().startswith("mixed.ndjson:2 "), lines
    machine = CliRunner().invoke(main, ["load", "--quiet", "--json", str(path)], env=env)
    report = json.loads(machine.stdout)
    assert (report["records"], report["written"], report["failed"], report["unchanged"]) == (2, 1, 1, 1)


def quotebank_bz2(path: Path, rows: int) -> Path:
    header = ",quoteID,quotation,speaker,qids,date,numOccurrences,probas,urls,phase\n"
    body = "".join(
        f'{i},q{i},"Quotation number {i} about rockets.",Jane Roe,[\'Q1\'],2020-03-24 05:56:00,1,"[]",'
        f"\"['https://example.com/{i}']\",E\n"
        for i in range(rows)
    )
    path.write_bytes(bz2.compress((header + body).encode()))
    return path


def test_the_progress_of_a_compressed_file_counts_records(db: Database, server_dsn: str, tmp_path: Path) -> None:
    path = quotebank_bz2(tmp_path / "rockets.csv.bz2", 30)
    env = {"CLAIMS_DATABASE_URL": server_dsn, "CLAIMS_LOAD_DEMO": "false"}
    result = CliRunner().invoke(main, ["load", str(path)], env=env)
    assert result.exit_code == 0, result.output
    updates = result.stderr.replace("\r", "\n").splitlines()
    counts = [int(m[1]) for line in updates if (m := re.match(r"rockets\.csv\.bz2: (\d+) records", line))]
    assert counts and counts[-1] == 30, result.stderr
    assert "Loaded 30 records" in result.stdout


async def test_generate_reports_each_phase_as_it_starts_and_the_rows_it_wrote(db: Database) -> None:
    seen: list[tuple[str, int | None]] = []
    await generate_corpus(db, 200, seed=2, progress=lambda phase, rows: seen.append((phase, rows)))
    assert [phase for phase, rows in seen if rows is None] == list(PHASES)
    assert [phase for phase, rows in seen if rows is not None] == list(PHASES)
    done = dict((phase, rows) for phase, rows in seen if rows is not None)
    assert done["claims"] == 200 and done["sources"] == 100 and done["vacuum_analyze"] > 0
    assert all(seen[2 * i][0] == seen[2 * i + 1][0] for i in range(len(PHASES)))  # each ends before the next


def test_a_fresh_database_logs_each_migration_by_name(server_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    name = f"claimsbase_migrations_{uuid.uuid4().hex[:8]}"

    async def run() -> list[str]:
        admin = await asyncpg.connect(server_dsn)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            return await migrate(with_database(server_dsn, name))
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()

    with caplog.at_level(logging.INFO, logger="claims.db"):
        applied = asyncio.run(run())
    assert applied and [f"applied migration {v}" for v in applied] == [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("applied migration")
    ]
