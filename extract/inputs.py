"""Articles to extract from: `.txt` files (one article each) or JSONL (one article a line), read lazily."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from extract.document import Meta
from extract.text import ExtractError, decode

FIELDS = {"id", "text", "title", "date", "publisher", "url"}


@dataclass
class Item:
    """One article to extract, or the reason it cannot be read (``error``)."""

    ident: str
    text: str
    meta: Meta
    error: ExtractError | None = None


def parse_date(value: Any, field: str) -> date:
    if not isinstance(value, str):
        raise ExtractError(field, "must be a date string such as 2025-11-26")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ExtractError(field, f"{value!r} is not a date such as 2025-11-26") from None


def _record(line: str, where: str, defaults: Meta) -> Item:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return Item(where, "", defaults, ExtractError("line", f"is not JSON ({exc.msg})"))
    if not isinstance(obj, dict):
        return Item(where, "", defaults, ExtractError("line", "must be a JSON object with a text"))
    ident = str(obj.get("id", where))
    try:
        unknown = sorted(set(obj) - FIELDS)
        if unknown:
            raise ExtractError(unknown[0], f"is not a known field (known: {', '.join(sorted(FIELDS))})")
        text = obj.get("text")
        if not isinstance(text, str):
            raise ExtractError("text", "is required and must be a string")
        for key in ("title", "publisher", "url"):
            if obj.get(key) is not None and not isinstance(obj[key], str):
                raise ExtractError(key, "must be a string")
        meta = Meta(
            title=obj.get("title") or defaults.title,
            url=obj.get("url") or defaults.url,
            publisher=obj.get("publisher") or defaults.publisher,
            published=parse_date(obj["date"], "date") if obj.get("date") else defaults.published,
        )
        return Item(ident, text, meta)
    except ExtractError as exc:
        return Item(ident, "", defaults, exc)


def read(path: Path, defaults: Meta) -> Iterator[Item]:
    """The articles in one file: JSONL by its `.jsonl`/`.ndjson` suffix, else the file is one article."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open("rb") as fh:
            for n, raw in enumerate(fh, start=1):
                where = f"{path.name}:{n}"
                try:
                    line = decode(raw, "line")
                except ExtractError as exc:
                    yield Item(where, "", defaults, exc)
                    continue
                if line.strip():
                    yield _record(line, where, defaults)
        return
    meta = Meta(defaults.title, defaults.url, defaults.publisher, defaults.published, (path.name,))
    try:
        yield Item(path.stem, decode(path.read_bytes()), meta)
    except ExtractError as exc:
        yield Item(path.stem, "", meta, exc)
