"""Normalisation for matching: what makes "Friedrich MERZ", "friedrich merz" and "Friédrich Merz" one name.

The embedded PostgreSQL has no `unaccent`, so matching keys are computed here, when a row is
written, and stored in indexed `*_norm` columns; queries normalise their input the same way.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

_PUNCT = re.compile(r"[^\w]+", re.UNICODE)
_SPACE = re.compile(r"\s+")
# Typographic quotes and dashes that writers and OCR swap freely.
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
        "\u00df": "ss",
        "\u0131": "i",
        "\u00f8": "o",
        "\u00d8": "o",
        "\u0142": "l",
        "\u0141": "l",
        "\u00e6": "ae",
        "\u0153": "oe",
    }
)


def fold(text: str) -> str:
    """Case-fold and strip accents: ``fold("Friédrich MERZ") == "friedrich merz"``."""
    if text.isascii():  # nothing to translate, decompose or strip: most names and quotes, at a fraction of the cost
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLATE))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


@functools.lru_cache(maxsize=1 << 16)  # the same speakers and outlets come back document after document
def name_norm(name: str) -> str:
    """Matching key for a name: folded, punctuation dropped, spaces collapsed.

    >>> name_norm("  Keir  Starmer, K.C.")
    'keir starmer k c'
    """
    return _SPACE.sub(" ", _PUNCT.sub(" ", fold(name)).replace("_", " ")).strip()


def content_norm(content: str) -> str:
    """Matching key for a claim's words: the same quote with other quote marks or spacing matches."""
    return name_norm(content)


def search_terms(query: str) -> list[str]:
    """Words of a search box, normalised like the stored names."""
    return [t for t in name_norm(query).split(" ") if t]


def prefix_tsquery(query: str) -> str | None:
    """A `to_tsquery('simple', …)` text matching every word, the last one as a prefix.

    >>> prefix_tsquery("fried mer")
    'fried:* & mer:*'
    """
    terms = search_terms(query)
    if not terms:
        return None
    return " & ".join(f"{t}:*" for t in terms)


def claim_fingerprint(speaker_ids: Iterable[int], content: str) -> str:
    """Identity of a claim: who said it and what, whatever outlet printed it."""
    ids = ",".join(str(i) for i in sorted(set(speaker_ids)))
    return hashlib.sha256(f"{ids}|{content_norm(content)}".encode()).hexdigest()


@functools.lru_cache(maxsize=1 << 12)  # `claims load` keys each source when it reads it and again when it writes it
def normalize_url(url: str) -> str:
    """A URL as its identity: scheme and host lower-cased, fragment and default ports dropped."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80) or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), host, path, parts.query, ""))


def source_key(
    *, url: str | None, kind: str, title: str | None, publisher_id: int | None, published_at: datetime | None
) -> str:
    """Identity of a source: its URL when it has one, else what it is, who published it and when."""
    if url:
        return "url:" + normalize_url(url)
    # The same instant written with another offset is the same source.
    when = published_at.astimezone(UTC).isoformat() if published_at else ""
    raw = f"{kind}|{name_norm(title or '')}|{publisher_id or ''}|{when}"
    return "doc:" + hashlib.sha256(raw.encode()).hexdigest()


def slugify(text: str) -> str:
    """A topic slug: ``slugify("Ukraine crisis") == "ukraine-crisis"``."""
    return name_norm(text).replace(" ", "-")[:100].strip("-")
