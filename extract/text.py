"""What the extractor accepts: decoded, non-empty English text; HTML is reduced to its text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_CHARS = 1_000_000  # the longest source text a document may carry
HTML_HINT = re.compile(r"<\s*(html|body|p|div|br|span|article|head|!doctype)\b", re.I)
WORDS = re.compile(r"[^\W\d_]+")
# The commonest English function words: a page of English prose is a fifth to a half these.
ENGLISH = frozenset(
    "the of and to a in that is was he for it with as his on be at by i this had not are but from or have an "
    "they which one you were her all she there would their we him been has when who will more no if out so "
    "said what up its about into than them can only other new some could time these two may then do first "
    "any my now such like our over man me even most made after also did many before must through back years "
    "where much your way well down should because each just those people how too little state good very make "
    "world still own see men work long get here between both life being under never day same another know "
    "while last might us great old year off come since against go came right used take three says".split()
)


class ExtractError(ValueError):
    """Input the extractor refuses, with the field and the reason (each API words it its own way)."""

    def __init__(self, field: str, reason: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.code = code


class _Text(HTMLParser):
    SKIP = frozenset({"script", "style", "head", "noscript"})
    BLOCK = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "article", "section"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """The text of an HTML page, one blank line between blocks."""
    parser = _Text()
    parser.feed(text)
    parser.close()
    joined = "".join(parser.parts)
    joined = re.sub(r"[ \t\r\f\v]+", " ", joined)
    return re.sub(r"\s*\n\s*\n\s*", "\n\n", joined).strip()


def decode(data: bytes, field: str = "text") -> str:
    """UTF-8 text from bytes, refusing binary data."""
    if b"\x00" in data:
        raise ExtractError(field, "is binary data (it contains NUL bytes), not text", "binary")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractError(field, f"is not UTF-8 text (byte {exc.start} cannot be decoded)", "binary") from None


def is_html(text: str) -> bool:
    return bool(HTML_HINT.search(text[:5000]))


def english_share(text: str) -> float:
    """The share of words that are common English function words (0 to 1)."""
    words = WORDS.findall(text[:20000].lower())
    if not words:
        return 0.0
    return sum(w in ENGLISH for w in words) / len(words)


def check(text: str, field: str = "text") -> str:
    """The text to extract from, or an ExtractError saying why there is none."""
    if "\x00" in text:
        raise ExtractError(field, "is binary data (it contains NUL characters), not text", "binary")
    controls = sum(1 for c in text[:20000] if ord(c) < 32 and c not in "\n\r\t\f")
    if controls > 10:
        raise ExtractError(field, "is binary data (it is full of control characters), not text", "binary")
    if is_html(text):
        text = strip_html(text)
    if not text.strip():
        raise ExtractError(field, "is empty: give the article's text", "empty")
    if len(text) > MAX_CHARS:
        raise ExtractError(field, f"is {len(text):,} characters; at most {MAX_CHARS:,} are accepted", "too_long")
    words = WORDS.findall(text[:20000])
    if len(words) >= 8 and english_share(text) < 0.08:
        raise ExtractError(field, "is not in English; only English articles are supported", "language")
    if not words:
        raise ExtractError(field, "holds no words to extract from", "empty")
    return text
