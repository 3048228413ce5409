"""ClaimsKG CSV (claimskg/claim_topics_dataset): one fact-checked claim per row, one file per topic.

Each row becomes a source of kind ``fact_check`` (the review page; its publisher is the review site,
e.g. PolitiFact) with one claim by the ``claimer``: a direct quote when the whole text is in quote
marks, else a paraphrase, said on ``claim_date`` (day precision), with the file's topic and the
row's keywords as topics. The same claim listed in several topic files is one claim (same speaker,
same words) that gains each file's topics; loading the files again adds nothing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from api.importers.records import Failure, Parsed, Progress, csv_rows, open_binary, validate
from db.normalize import slugify

HEADER = {"claimer", "text", "review_url"}
# Review sites by host (the ClaimsKG sources); others are named by their domain.
SITES = {
    "politifact.com": "PolitiFact",
    "factscan.ca": "FactsCan",
    "snopes.com": "Snopes",
    "factcheck.org": "FactCheck.org",
    "fullfact.org": "Full Fact",
    "africacheck.org": "Africa Check",
    "truthorfiction.com": "TruthOrFiction",
    "checkyourfact.com": "Check Your Fact",
    "washingtonpost.com": "The Washington Post",
}
# Claimers that are organisations, by a word in their name; everyone else is taken as a person.
ORGANIZATION_WORDS = re.compile(
    r"\b(club|committee|campaign|party|pac|association|council|coalition|group|fund|foundation|institute|"
    r"center|centre|department|district|agency|union|league|network|democrats|republicans|gop|posts?|email|"
    r"image|bloggers|website|news|times|post|tv|radio|chamber|alliance|project|action|america|americans|"
    r"for|inc|corp|company|office|board|administration|city|county|state|university|society|people)\b",
    re.IGNORECASE,
)
MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
REVIEW_DATE = re.compile(r"/(\d{4})/([a-z]{3})/(\d{1,2})/")
OPENING, CLOSING = "'\"\u2018\u201c", "'\"\u2019\u201d"
# Where a document field came from, for error messages that name the CSV column.
COLUMNS = (
    ("said_at", "claim_date"),
    ("speakers", "claimer"),
    ("content", "text"),
    ("appearance", "text"),
    ("topics", "keywords"),
    ("source.url", "review_url"),
    ("source.title", "headline"),
)


def site(url: str) -> tuple[str, str]:
    """The review site's name and host: ``site("http://www.politifact.com/x") == ("PolitiFact", "politifact.com")``."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return SITES.get(host, host), host


def review_date(url: str) -> date | None:
    """The publication day a PolitiFact review URL carries (``…/statements/2012/mar/21/…``), if any."""
    m = REVIEW_DATE.search(url)
    if m is None or m.group(2) not in MONTHS:
        return None
    try:
        return date(int(m.group(1)), MONTHS[m.group(2)], int(m.group(3)))
    except ValueError:
        return None


def quoted(text: str) -> str | None:
    """The words inside quote marks when the whole text is one quotation, else None.

    >>> quoted("'We have the highest graduation rate.'")
    'We have the highest graduation rate.'
    >>> quoted("'One in five' women 'are affected.'") is None
    True
    """
    t = text.strip()
    if len(t) < 3 or t[0] not in OPENING or t[-1] not in CLOSING:
        return None
    inner = t[1:-1].strip()
    # A quote mark next to a space or at the edge inside means the quotation closes and reopens.
    if re.search(r"['\"\u2018\u2019\u201c\u201d](\s|$)|(^|\s)['\"\u2018\u2019\u201c\u201d]", inner):
        return None
    return inner or None


def clean_text(text: str, claimer: str) -> str:
    """FactsCan rows repeat the claimer and the site: ``"Tom Mulcair: “…” - FactsCanada"`` → ``"“…”"``."""
    t = " ".join(text.split())
    t = t.removeprefix(f"{claimer}: ").removesuffix(" - FactsCanada")
    return t


def claimer_kind(claimer: str) -> str:
    """``"organization"`` for names like "Club for Growth" or "Facebook posts", else ``"person"``."""
    return "organization" if ORGANIZATION_WORDS.search(claimer) else "person"


def topics(topic: str | None, keywords: str) -> list[dict[str, str]]:
    """The file's topic and the row's keywords as ``{"slug", "name"}``, distinct, at most 20."""
    names = ([topic] if topic else []) + [k.strip() for k in keywords.split(",")]
    out: dict[str, str] = {}
    for name in names:
        if name and slugify(name):
            out.setdefault(slugify(name), name[:200])
    return [{"slug": s, "name": n} for s, n in list(out.items())[:20]]


def document(row: dict[str, str], topic: str | None) -> dict[str, Any]:
    """One row as a source document (not yet validated)."""
    claimer = row.get("claimer", "").strip()
    text = clean_text(row.get("text", ""), claimer)
    inner = quoted(text)
    url = row.get("review_url", "").strip()
    name, host = site(url)
    published = review_date(url)
    said = row.get("claim_date", "").strip()
    if published is not None and said[:10] > published.isoformat():
        published = None  # the URL's day is a guess; one before the claim was made is a wrong guess
    row_topics = topics(topic, row.get("keywords", ""))
    claim: dict[str, Any] = {
        "content": inner or text,
        "kind": "direct_quote" if inner else "paraphrase",
        "language": "en",
        "said_at": said or None,
        "speakers": [{"entity": {"name": claimer, "kind": claimer_kind(claimer)}}],
        "topics": [t["slug"] for t in row_topics],
        "appearance": {"quote": text},
    }
    source: dict[str, Any] = {
        "kind": "fact_check",
        "url": url,
        "title": row.get("headline", "").strip()[:1000] or None,
        "publisher": {"name": name, "kind": "organization", "aliases": [host]} if name else None,
        "published_at": published.isoformat() if published else None,
        "language": "en",
    }
    return {"source": source, "claims": [claim], "topics": row_topics}


def parse_row(name: str, line: int, row: dict[str, str], topic: str | None) -> Parsed:
    """One CSV row as a validated document, or the failures naming its columns."""
    missing = [c for c in ("claimer", "text", "review_url") if not row.get(c, "").strip()]
    if missing:
        return Parsed(line, failures=[Failure(name, line, missing[0], "is empty")])
    doc = validate(name, line, document(row, topic), COLUMNS)
    return Parsed(line, [doc]) if not isinstance(doc, list) else Parsed(line, failures=doc)


def file_topic(path: Path) -> str | None:
    """The topic a ClaimsKG file is named after: ``crime.csv`` → ``"Crime"``."""
    stem = path.name.removesuffix(".csv").replace("_", " ").strip()
    return stem.capitalize() if stem else None


def read_claimskg(path: Path, *, limit: int | None = None, progress: Progress | None = None) -> Iterator[Parsed]:
    """The documents of a ClaimsKG CSV file, one row at a time (at most ``limit`` rows)."""
    topic = file_topic(path)
    with (
        open_binary(path, progress) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="", errors="replace") as text,
    ):
        for line, row in islice(csv_rows(text, path.name, frozenset(HEADER), "ClaimsKG"), limit):
            yield Parsed(line, failures=[row]) if isinstance(row, Failure) else parse_row(path.name, line, row, topic)
