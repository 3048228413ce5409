"""Datelines: where and when an agency filed the story, and which agency.

The forms recognised (one regular expression each, tried at the start of any line):

- TASS:    ``BERLIN, November 26. /TASS/.``
- AP:      ``WASHINGTON (AP) —`` or ``KYIV, Ukraine (AP) —``
- Reuters: ``LONDON, Nov 26 (Reuters) -``
- AFP:     ``Paris (AFP) -`` or ``PARIS, Nov 26, 2025 (AFP) -``
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MONTHS = {
    m: n
    for n, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
MONTH = r"(?P<month>(?i:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r"))\.?"
PLACE = r"(?P<place>[A-Z][A-Za-z.'\-]+(?:[ \-][A-Z][A-Za-z.'\-]+)*)(?:, (?P<region>[A-Z][A-Za-z. ]{1,30}?))?"
DAY = r"(?P<day>\d{1,2})(?:, (?P<year>\d{4}))?"

AGENCIES = {
    "TASS": ("TASS", ["TASS Russian News Agency"]),
    "AP": ("Associated Press", ["AP", "The Associated Press"]),
    "Reuters": ("Reuters", []),
    "AFP": ("Agence France-Presse", ["AFP"]),
}

PATTERNS = [
    re.compile(rf"^{PLACE}, {MONTH} {DAY}\. /(?P<agency>TASS)/\.", re.MULTILINE | re.IGNORECASE),
    re.compile(rf"^{PLACE}(?:, {MONTH} {DAY})? \((?P<agency>AP|Reuters|AFP)\) ?[—–-]", re.MULTILINE),
]


@dataclass(frozen=True)
class Dateline:
    """A recognised dateline: its span in the text, the place, the agency and the date (if printed)."""

    start: int
    end: int
    place: str
    agency: str
    publisher: str
    aliases: list[str]
    month: int | None
    day: int | None
    year: int | None

    def when(self, year_hint: int | None, today: date) -> date | None:
        """The dateline's date; a missing year is the hint's, else the latest such day up to today."""
        if self.month is None or self.day is None:
            return None
        year = self.year or year_hint
        try:
            if year is not None:
                return date(year, self.month, self.day)
            candidate = date(today.year, self.month, self.day)
            return candidate if candidate <= today else date(today.year - 1, self.month, self.day)
        except ValueError:
            return None


def find(text: str, within: int = 3000) -> Dateline | None:
    """The first dateline in the first ``within`` characters, or None."""
    head = text[:within]
    best: re.Match[str] | None = None
    for pattern in PATTERNS:
        m = pattern.search(head)
        if m and (best is None or m.start() < best.start()):
            best = m
    if best is None:
        return None
    agency = next(a for a in AGENCIES if a.lower() == best["agency"].lower())
    name, aliases = AGENCIES[agency]
    month = MONTHS.get(best["month"].lower()) if best["month"] else None
    return Dateline(
        start=best.start(),
        end=best.end(),
        place=best["place"].title() if best["place"].isupper() else best["place"],
        agency=agency,
        publisher=name,
        aliases=aliases,
        month=month,
        day=int(best["day"]) if best["day"] else None,
        year=int(best["year"]) if best["year"] else None,
    )


ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def year_hint(*texts: str) -> int | None:
    """The year of the first ISO date found in the given texts (a file name, a page's preamble)."""
    for text in texts:
        m = ISO_DATE.search(text)
        if m:
            return int(m.group(1))
    return None
