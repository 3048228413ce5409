"""Loaders that fail loudly (issue 24 point 9): what cannot be read is said, once, with its line."""

from __future__ import annotations

from pathlib import Path

from api.importers import load_files
from db.database import Database

HEADER = b'"claim","review_url","claimer","text","headline","keywords","claim_date"\n'


def row(n: int, text: bytes = b"Says %d.", date: bytes = b"2019-05-01") -> bytes:
    url = b"http://www.politifact.com/truth-o-meter/statements/2019/may/02/x/%d/" % n
    return b'"c%d","%s","Jane Roe","%s","Headline %d","Taxes",%s\n' % (n, url, text.replace(b"%d", b"%d" % n), n, date)


def bare_row(n: int) -> bytes:
    """A row without quote marks."""
    url = b"http://www.politifact.com/truth-o-meter/statements/2019/may/02/x/%d/" % n
    return b"c%d,%s,Jane Roe,Says %d.,H,Taxes,2019-05-01\n" % (n, url, n)


async def test_an_unterminated_quote_is_reported_at_its_line(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "taxes.csv"
    opened = b'c2,http://www.politifact.com/x/2/,Jane Roe,"Says it and never closes,H,Taxes,2019-05-01\n'
    path.write_bytes(HEADER + bare_row(1) + opened + bare_row(3) + bare_row(4))
    report = await load_files(db, [path])
    assert report.written == 1
    [failure] = report.failures
    assert failure.line == 3
    assert "never closed" in failure.reason and "lines 3–5" in failure.reason


async def test_a_quotation_closed_too_late_names_the_lines_it_joined(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "taxes.csv"
    opened = b'c2,http://www.politifact.com/x/2/,Jane Roe,"Says it and never closes,H,Taxes,2019-05-01\n'
    path.write_bytes(HEADER + row(1) + opened + row(3) + row(4))
    report = await load_files(db, [path])
    assert (report.written, report.failed) == (2, 1)
    [failure] = report.failures
    assert failure.line == 3 and "lines 3–4" in failure.reason


async def test_a_file_in_another_format_says_its_header_does_not_fit(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "taxes.csv"
    path.write_bytes(HEADER + row(1) + row(2))
    report = await load_files(db, [path], "quotebank")
    [failure] = report.failures
    assert failure.line == 1
    assert "not a Quotebank file" in failure.reason and "quotation" in failure.reason
    assert (report.written, report.failed) == (0, 1)


async def test_one_bad_field_is_reported_once(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "taxes.csv"
    path.write_bytes(HEADER + b"".join(row(n, date=b"2019-05-01T25:00") for n in range(1, 6)))
    report = await load_files(db, [path])
    assert report.failed == 5
    assert [(f.line, f.field) for f in report.failures] == [(n, "claim_date") for n in range(2, 7)]


async def test_a_file_without_records_says_so(db: Database, tmp_path: Path) -> None:
    empty, header_only = tmp_path / "empty.ndjson", tmp_path / "taxes.csv"
    empty.write_bytes(b"")
    header_only.write_bytes(HEADER)
    report = await load_files(db, [empty, header_only])
    assert report.records == 0
    assert [(f.file, f.reason) for f in report.failures] == [
        ("empty.ndjson", "no records: the file is empty or holds only a header"),
        ("taxes.csv", "no records: the file is empty or holds only a header"),
    ]
