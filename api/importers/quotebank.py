"""Quotebank CSV, bz2-compressed: quotations attributed to a speaker, with the articles that printed them.

Each row is one quotation (``quotation``, a direct quote, said on ``date``'s day) by ``speaker``,
with the speaker's Wikidata id when ``qids`` names exactly one. It becomes one source document per
URL in ``urls``: the article (kind ``news_article``, published by its site's domain as an
organisation) with the quotation as its one claim. The claim's identity (speaker + words) makes the
documents after the first add only an appearance, so a quotation printed by 12 sites is one claim
with 12 appearances. A space inside a URL is read as ``%20``. Lists in the file are Python
literals: read with `ast.literal_eval`, never eval.
Articles carry no publication date (Quotebank gives only the quotation's first-seen time).
"""

from __future__ import annotations

import ast
import bz2
import io
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from api.importers.records import Failure, Parsed, Progress, csv_rows, open_binary, validate

HEADER = {"quotation", "speaker", "urls"}
NO_SPEAKER = {"", "None"}
COLUMNS = (
    ("said_at", "date"),
    ("external_ids", "qids"),
    ("speakers", "speaker"),
    ("content", "quotation"),
    ("appearance", "quotation"),
    ("source", "urls"),
)


def python_list(value: str) -> list[str]:
    """A list of strings written as a Python literal: ``python_list("['Q317521']") == ['Q317521']``."""
    try:
        parsed = ast.literal_eval(value.strip() or "[]")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise ValueError(f"is not a Python list literal ({type(exc).__name__})") from None
    if not isinstance(parsed, list | tuple) or not all(isinstance(v, str) for v in parsed):
        raise ValueError("is not a list of strings")
    return [v.strip() for v in parsed if v.strip()]


def domain(url: str) -> str:
    """The outlet a URL belongs to: ``domain("https://www.cnbc.com/2020/x.html") == "cnbc.com"``."""
    return (urlsplit(url).hostname or "").removeprefix("www.")


def document(row: dict[str, str], qids: list[str], url: str) -> dict[str, Any]:
    """The article at ``url`` with the row's quotation as its claim (not yet validated)."""
    quotation = row["quotation"].strip()
    speaker: dict[str, Any] = {"name": row["speaker"].strip(), "kind": "person"}
    if len(qids) == 1:  # several QIDs mean Quotebank could not tell namesakes apart
        speaker["external_ids"] = {"wikidata": qids[0]}
    said = row.get("date", "").strip()[:10] or None
    outlet = domain(url)
    url = "%20".join(url.split(" "))  # a space in a printed URL is an unencoded %20, not a broken URL
    claim = {
        "content": quotation,
        "kind": "direct_quote",
        "language": "en",
        "said_at": said,
        "speakers": [{"entity": speaker}],
        "appearance": {"quote": quotation},
    }
    source = {
        "kind": "news_article",
        "url": url,
        "publisher": {"name": outlet, "kind": "organization"} if outlet else None,
        "language": "en",
    }
    return {"source": source, "claims": [claim]}


def parse_row(name: str, line: int, row: dict[str, str]) -> Parsed:
    """One row as one validated document per URL; failures name the column (and the URL's index)."""
    if not row.get("quotation", "").strip():
        return Parsed(line, failures=[Failure(name, line, "quotation", "is empty")])
    if row.get("speaker", "").strip() in NO_SPEAKER:
        return Parsed(line, failures=[Failure(name, line, "speaker", "no speaker is attributed")])
    qids, urls = _list_column(name, line, row, "qids"), _list_column(name, line, row, "urls")
    if isinstance(qids, Failure) or isinstance(urls, Failure):
        return Parsed(line, failures=[f for f in (qids, urls) if isinstance(f, Failure)])
    if not urls:
        return Parsed(line, failures=[Failure(name, line, "urls", "no article prints the quotation")])
    parsed = Parsed(line)
    for i, url in enumerate(urls):
        doc = validate(name, line, document(row, qids, url), COLUMNS)
        if isinstance(doc, list):
            parsed.failures.extend(
                Failure(f.file, f.line, f"urls[{i}]" if f.field == "urls" else f.field, f.reason) for f in doc
            )
        else:
            parsed.documents.append(doc)
    # A bad date or speaker fails every URL's document the same way: say it once.
    parsed.failures = list({(f.field, f.reason): f for f in parsed.failures}.values())
    return parsed


def _list_column(name: str, line: int, row: dict[str, str], column: str) -> list[str] | Failure:
    try:
        return python_list(row.get(column, ""))
    except ValueError as exc:
        return Failure(name, line, column, str(exc))


def read_quotebank(path: Path, *, limit: int | None = None, progress: Progress | None = None) -> Iterator[Parsed]:
    """The documents of a Quotebank CSV file (``.csv.bz2`` decompressed as it streams, or plain ``.csv``)."""
    with open_binary(path, progress) as raw:
        stream: IO[bytes] = bz2.BZ2File(raw) if path.name.endswith(".bz2") else raw
        with io.TextIOWrapper(stream, encoding="utf-8", newline="", errors="replace") as text:
            for line, row in islice(csv_rows(text, path.name, frozenset(HEADER), "Quotebank"), limit):
                yield Parsed(line, failures=[row]) if isinstance(row, Failure) else parse_row(path.name, line, row)
