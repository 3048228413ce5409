"""NDJSON: one source document per line, the shape of `POST /v1/import` and `GET /v1/export`."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from api.importers.records import Failure, Parsed, Progress, invalid, open_binary
from schema.documents import SourceDocument

# The default of CLAIMS_MAX_IMPORT_LINE_BYTES: one line is the most a reader holds in memory.
MAX_LINE_BYTES = 2_000_000


def lines(stream: BinaryIO, cap: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` per line; ``None`` for a line over ``cap`` bytes, skipped unread.

    >>> import io
    >>> list(lines(io.BytesIO(b'{}\\n' + b'x' * 9 + b'\\n{}'), cap=4))
    [(1, b'{}'), (2, None), (3, b'{}')]
    """
    number = 0
    while chunk := stream.readline(cap + 1):
        number += 1
        if len(chunk.rstrip(b"\r\n")) <= cap:
            yield number, chunk.rstrip(b"\r\n")
            continue
        while chunk and not chunk.endswith(b"\n"):
            chunk = stream.readline(cap + 1)
        yield number, None


def parse_line(name: str, number: int, line: bytes | None, cap: int = MAX_LINE_BYTES) -> Parsed | None:
    """One line as a document (or its failures); None for a blank line."""
    if line is None:
        return Parsed(number, failures=[Failure(name, number, "", f"the line is longer than {cap} bytes")])
    if not line.strip():
        return None
    try:
        return Parsed(number, [SourceDocument.model_validate_json(line)])
    except ValidationError as exc:
        return Parsed(number, failures=invalid(name, number, exc))


def read_ndjson(path: Path, *, limit: int | None = None, progress: Progress | None = None) -> Iterator[Parsed]:
    """The documents of an NDJSON file, one line at a time (at most ``limit`` records)."""
    with open_binary(path, progress) as stream:
        parsed = (parse_line(path.name, number, line) for number, line in lines(stream))
        yield from islice((p for p in parsed if p is not None), limit)
