"""From an article's text to a source document (the shape `POST /v1/import` takes) and its attributions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from extract import dateline as datelines
from extract import parsing
from extract.features import Article
from extract.speakers import Resolver, Speakers
from extract.tagger import Attribution, Tagger, runs
from extract.text import check
from extract.when import resolve

EXTRACTOR = "claimsbase-extract"
QUOTES = "\"'“”‘’«»"
TRIM = " \t\r\n\u00a0" + QUOTES + ",;:"
TEMPLATE = re.compile(r"\{\{.*?\}\}")


@dataclass
class Meta:
    """What is known about an article besides its text."""

    title: str | None = None
    url: str | None = None
    publisher: str | None = None
    published: date | None = None
    hints: tuple[str, ...] = ()  # texts that may carry the year (a file name)


@dataclass
class Extraction:
    """The document to import, the attribution spans behind its claims, and the dateline found."""

    document: dict[str, Any]
    attributions: list[dict[str, Any]] = field(default_factory=list)
    dateline: dict[str, Any] | None = None

    def line(self, ident: str | None) -> dict[str, Any]:
        """The NDJSON line `claims extract` prints for this article."""
        out: dict[str, Any] = {"id": ident, "document": self.document, "attributions": self.attributions}
        if self.dateline:
            out["dateline"] = self.dateline
        return out


_tagger: Tagger | None = None


def tagger() -> Tagger:
    """The committed models, loaded once per process."""
    global _tagger  # one read-only model per process
    if _tagger is None:
        _tagger = Tagger()
    return _tagger


def headline(text: str, before: int) -> str | None:
    """The first line of the article if it reads like a headline (short, before the dateline)."""
    for line in text[: before if before > 0 else 600].splitlines():
        line = line.strip()
        if not line or TEMPLATE.search(line):
            continue
        if len(line) <= 300:
            return line
        return None
    return None


def _trimmed(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s] in TRIM:
        s += 1
    while e > s and text[e - 1] in TRIM + ".":
        e -= 1
    return s, e


def kind_of(art: Article, att: Attribution) -> str:
    """direct_quote when the content is all inside quotation marks, partial_quote when some is."""
    words = [i for i in att.content_tokens if not art.doc[i].is_punct]
    if words and art.doc[words[0]].lower_ == "that":
        words = words[1:]
    inside = sum(art.in_quote[i] for i in words)
    if words and inside == len(words):
        return "direct_quote"
    if inside:
        return "partial_quote"
    return "paraphrase"


def quoted(art: Article, att: Attribution) -> list[tuple[int, int]]:
    """The character spans of the content's words that stand inside quotation marks."""
    inside = [i for i in att.content_tokens if art.in_quote[i]]
    doc = art.doc
    return [(doc[r[0]].idx, doc[r[-1]].idx + len(doc[r[-1]].text)) for r in runs(inside)]


def content_text(art: Article, att: Attribution, kind: str) -> str:
    """The claim as printed: the quoted words of a partial quote, else the whole content."""
    text = art.doc.text
    spans = quoted(art, att) if kind == "partial_quote" else att.content
    parts = [text[s:e] for s, e in (_trimmed(text, s, e) for s, e in spans) if e > s]
    joined = " ".join(p.strip() for p in parts)
    joined = re.sub(r"^that\b[:,]?\s*[\"“‘']?", "", joined, flags=re.I) if len(joined) > 10 else joined
    return re.sub(r"\s+", " ", joined).strip()


def _entity(speakers: Speakers) -> list[dict[str, Any]]:
    return [{"entity": e.ref(), "role": role} for e, role in speakers.entities]


def _published(meta: Meta, line: datelines.Dateline | None, text: str) -> date | None:
    if meta.published:
        return meta.published
    if line is None:
        return None
    hint = datelines.year_hint(text[: line.start], *meta.hints)
    return line.when(hint, datetime.now(UTC).date())


def extract(raw: str, meta: Meta | None = None, model: Tagger | None = None) -> Extraction:
    """The source document and attributions of one article (raises ExtractError for unusable text)."""
    meta = meta or Meta()
    text = check(raw)
    line = datelines.find(text)
    published = _published(meta, line, text)
    title = meta.title or headline(text, line.start if line else 0) or text.strip()[:120]
    source: dict[str, Any] = {"kind": "news_article", "title": title, "language": "en", "text": text}
    if meta.url:
        source["url"] = meta.url
    if meta.publisher:
        source["publisher"] = {"name": meta.publisher, "kind": "organization"}
    elif line:
        source["publisher"] = {"name": line.publisher, "kind": "organization"}
        if line.aliases:
            source["publisher"]["aliases"] = line.aliases
    if published:
        source["published_at"] = published.isoformat()
    doc = parsing.load()(text)
    model = model or tagger()
    art = model.prepare(doc)
    found = model.attributions(art)
    resolver = Resolver(doc)
    claims: list[dict[str, Any]] = []
    seen: dict[tuple[str, ...], int] = {}
    attributions: list[dict[str, Any]] = []
    for att in sorted(found, key=lambda a: a.cue[0][0]):
        if line:
            att.content = outside(att.content, line.start, line.end)
            att.content_tokens = [i for i in att.content_tokens if doc[i].idx >= line.end or doc[i].idx < line.start]
            if not att.content:
                continue
        span = _source_span(art, att)
        speakers = resolver.resolve(span)
        kind = kind_of(art, att)
        content = content_text(art, att, kind)
        index: int | None = None
        when = resolve(doc[att.cue_tokens[0]].sent.text, published)
        if speakers and content:
            key = (content.lower(), *sorted(e.name for e, _ in speakers.entities))
            if key in seen:
                index = seen[key]
            else:
                index = seen[key] = len(claims)
                claims.append(_claim(text, att, kind, content, speakers, when, model.version))
        attributions.append(
            {
                "claim": index,
                "cue": [list(s) for s in att.cue],
                "source": [list(s) for s in att.source],
                "content": [list(s) for s in att.content],
                "confidence": att.confidence,
                "said_at_basis": when.basis,
            }
        )
    document = {"source": source, "claims": claims}
    found_line = None
    if line:
        found_line = {"span": [line.start, line.end], "place": line.place, "agency": line.agency}
    return Extraction(document, attributions, found_line)


def outside(spans: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Fragments with the dateline ("BERLIN, November 26. /TASS/.") cut out of them."""
    out = []
    for s, e in spans:
        if s < end and start < e:  # overlaps the dateline: keep what lies after it
            s = max(s, end)
        if e > s:
            out.append((s, e))
    return out


def _source_span(art: Article, att: Attribution) -> Any:
    if not att.source_tokens:
        return None
    first = att.source_tokens[0]
    last = first
    while last + 1 in set(att.source_tokens):
        last += 1
    return art.doc[first : last + 1]


def _claim(
    text: str, att: Attribution, kind: str, content: str, speakers: Speakers, when: Any, version: str
) -> dict[str, Any]:
    lo = min(s for s, _ in att.content)
    hi = max(e for _, e in att.content)
    lo, hi = _trimmed(text, lo, hi)
    claim: dict[str, Any] = {
        "content": content,
        "kind": kind,
        "language": "en",
        "speakers": _entity(speakers),
        "appearance": {"quote": text[lo:hi], "span": [lo, hi]},
        "extraction": {"extractor": EXTRACTOR, "version": version, "confidence": att.confidence},
    }
    if when.on is not None:
        claim["said_at"] = when.on.isoformat()
        claim["said_at_precision"] = when.precision
    return claim
