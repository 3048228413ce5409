"""When a claim was said: an explicit date near the cue, a relative day resolved against the
reporting date, else the reporting date itself as the latest it can have been said."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from extract.dateline import MONTH, MONTHS

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# Only dates introduced by "on": "the November 23 talks" dates the talks, not the statement.
EXPLICIT = re.compile(rf"\bon {MONTH} (?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,? (?P<year>\d{{4}}))?\b", re.I)
DAY_FIRST = re.compile(rf"\bon (?:the )?(?P<day>\d{{1,2}}) {MONTH}(?: (?P<year>\d{{4}}))?\b", re.I)
RELATIVE = re.compile(r"\b(?:on |last )?(?P<word>yesterday|today|tonight|" + "|".join(WEEKDAYS) + r")\b", re.I)


@dataclass(frozen=True)
class When:
    """A said-at date, its precision, and how it was found: explicit, relative or reported (upper bound)."""

    on: date | None
    precision: str
    basis: str


def _explicit(m: re.Match[str], reported: date | None) -> date | None:
    month = MONTHS[m["month"].lower()]
    day = int(m["day"])
    year = int(m["year"]) if m["year"] else (reported.year if reported else None)
    if year is None:
        return None
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    if not m["year"] and reported and found > reported:
        found = date(year - 1, month, day)  # "December 30" in a January story is last year's
    return found


def resolve(sentence: str, reported: date | None, future: bool = False) -> When:
    """The date a sentence says its claim was made, against the reporting date.

    A weekday means the latest such day before the reporting date for past-tense verbs (the story is
    filed after the event); a claim is never said after it is reported, so future readings are ignored.
    """
    for pattern in (EXPLICIT, DAY_FIRST):
        for m in pattern.finditer(sentence):
            found = _explicit(m, reported)
            if found and (reported is None or found <= reported):
                return When(found, "day", "explicit")
    if reported is not None and not future:
        for m in RELATIVE.finditer(sentence):
            word = m["word"].lower()
            if word in ("today", "tonight"):
                return When(reported, "day", "relative")
            if word == "yesterday":
                return When(reported - timedelta(days=1), "day", "relative")
            back = (reported.weekday() - WEEKDAYS.index(word)) % 7
            return When(reported - timedelta(days=back), "day", "relative")
    if reported is not None:
        return When(reported, "day", "reported")
    return When(None, "unknown", "unknown")
