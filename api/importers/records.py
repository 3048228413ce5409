"""What every reader yields: an input record's source documents, or why it has none."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from api.errors import field_path
from schema.documents import SourceDocument

Progress = Callable[[int], None]
# Where document fields come from in a CSV format: (a part of the document path, the input column);
# the first pair whose part the path contains names the column. ``()``: the path is the name.
Columns = Sequence[tuple[str, str]]
# A CSV field larger than this is a broken record, not a quotation.
CSV_FIELD_LIMIT = 1_000_000


@dataclass(frozen=True)
class Failure:
    """A record that was not (fully) written: where, which field, and why."""

    file: str
    line: int
    field: str
    reason: str


@dataclass
class Parsed:
    """One input record (starting at ``line``): its documents, and the failures found so far."""

    line: int
    documents: list[SourceDocument] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


class CountingReader(io.RawIOBase):
    """A binary file that reports how many bytes it has read, for a progress bar."""

    def __init__(self, raw: io.BufferedReader, progress: Progress | None) -> None:
        self.raw = raw
        self.progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        if self.progress is not None and n:
            self.progress(n)
        return n or 0

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_binary(path: Path, progress: Progress | None) -> io.BufferedReader:
    """``path`` opened for reading bytes, reporting progress in bytes of the file on disk."""
    return io.BufferedReader(CountingReader(path.open("rb"), progress), buffer_size=1 << 16)


class _Lines:
    """The text's lines as csv reads them, counting the quote marks of the record being read and
    noting the end of the file: an unterminated quotation reads everything after it as one field."""

    def __init__(self, text: io.TextIOBase) -> None:
        self.text = text
        self.quotes = 0
        self.ended = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        try:
            line = next(self.text)
        except StopIteration:
            self.ended = True
            raise
        self.quotes += line.count('"')
        return line


def csv_rows(
    text: io.TextIOBase, name: str, header_needs: frozenset[str] = frozenset(), kind: str = "CSV"
) -> Iterator[tuple[int, dict[str, str] | Failure]]:
    """``(line, row)`` for each record of a CSV with a header; a record csv cannot read is a Failure.

    Lines are physical line numbers where the record starts (the header is line 1), so a quotation
    spanning lines does not shift the numbers of the records after it. ``text`` should decode with
    ``errors="replace"``: a record with bytes that are not UTF-8 is then a Failure, not a crash; a
    truncated or corrupt (compressed) file ends with a Failure at the line it stopped on.
    """
    csv.field_size_limit(CSV_FIELD_LIMIT)
    lines = _Lines(text)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except (csv.Error, OSError, EOFError) as exc:
        yield 1, Failure(name, 1, "", f"no readable header: {exc}")
        return
    missing = sorted(header_needs - {h.strip() for h in header})
    if missing:
        reason = f"the header lacks {', '.join(missing)}: this is not a {kind} file (its columns: {', '.join(header)})"
        yield 1, Failure(name, 1, "", reason[:1000])
        return
    while True:
        line = reader.line_num + 1
        lines.quotes = 0
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, Failure(name, line, "", f"unreadable CSV record: {exc}")
            continue
        except (OSError, EOFError) as exc:
            yield line, Failure(name, line, "", f"the file ends here, unreadable: {exc}")
            return
        if not values:
            continue
        if lines.ended and lines.quotes % 2 and reader.line_num > line:
            reason = f"a quotation opened in this record is never closed: lines {line}–{reader.line_num} (the end of the file) could not be read as records"  # noqa: E501
            yield line, Failure(name, line, "", reason)
            return
        if len(values) != len(header):
            joined = f" (lines {line}–{reader.line_num} were read as one record: a quotation not closed?)"
            reason = f"{len(values)} fields where the header has {len(header)}"
            yield line, Failure(name, line, "", reason + (joined if reader.line_num > line else ""))
            continue
        row = dict(zip(header, values, strict=True))
        garbled = next((k for k, v in row.items() if "\ufffd" in v), None)
        yield line, row if garbled is None else Failure(name, line, garbled, "is not valid UTF-8")


def column_of(path: str, columns: Columns) -> str:
    """The input column behind a document path: ``column_of("claims[0].said_at", [("said_at", "date")]) == "date"``."""
    return next((column for part, column in columns if part in path), path)


def invalid(name: str, line: int, exc: ValidationError, columns: Columns = ()) -> list[Failure]:
    """A pydantic error as failures naming the input column (`Columns`)."""
    out: dict[str, Failure] = {}
    for err in exc.errors():
        path = field_path([p for p in err.get("loc", ()) if not str(p).startswith("function-")])
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        column = column_of(path, columns)
        # One failure per input field: a date refused as a date-time and as a date is one bad value.
        out.setdefault(column if columns else _union_free(err.get("loc", ())), Failure(name, line, column, message))
    return list(out.values())


def _union_free(loc: Any) -> str:
    """A location without the union member pydantic tried (``…said_at.datetime`` → ``…said_at``)."""
    parts = [p for p in loc if not str(p).startswith("function-")]
    if parts and parts[-1] in ("datetime", "date", "str", "int"):
        parts = parts[:-1]
    return field_path(parts)


def validate(name: str, line: int, raw: dict[str, Any], columns: Columns) -> SourceDocument | list[Failure]:
    """``raw`` as a validated document, or the failures naming the offending input columns."""
    try:
        return SourceDocument.model_validate(raw)
    except ValidationError as exc:
        return invalid(name, line, exc, columns)
