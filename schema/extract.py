"""REST types of `POST /v1/extract`: the request's optional facts, and the extraction answered."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from schema.common import Public
from schema.documents import IsoDate, SourceDocument, Strict, Url
from schema.sources import SourceWritten

Span = tuple[int, int]


class ExtractRequest(Strict):
    """An article to extract from, with what is known about it besides its text."""

    text: Annotated[str, StringConstraints(max_length=1_000_000)] = Field(
        description="The article's text (HTML is reduced to its text).",
        examples=["BERLIN, November 26. /TASS/. The statement says: “We agreed.”"],
    )
    title: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="The article's title (else its first line).", examples=[None]
    )
    date: IsoDate | None = Field(default=None, description="Publication date.", examples=["2025-11-26"])
    publisher: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        default=None, description="Publisher's name, when no dateline names one.", examples=["TASS"]
    )
    url: Url | None = Field(
        default=None, description="Where it is published.", examples=["https://tass.com/world/2051789"]
    )


class AttributionOut(Public):
    """Who said what, as spans of the text: Python string offsets, end exclusive."""

    claim: int | None = Field(description="Index into `document.claims`; null when no speaker was resolved.")
    cue: list[Span] = Field(description="The cue's span(s), such as `said`.", examples=[[[60, 64]]])
    source: list[Span] = Field(description="The source's span(s); empty when the text names none.")
    content: list[Span] = Field(description="The content's fragments (discontinuous around the cue).")
    confidence: float = Field(description="The taggers' probability, 0 to 1.", ge=0, le=1, examples=[0.91])
    said_at_basis: Literal["explicit", "relative", "reported", "unknown"] = Field(
        description="How `said_at` was found: a printed date, a relative day, or the reporting date as the latest."
    )


class DatelineOut(Public):
    """The dateline found at the head of the article."""

    span: Span = Field(description="The dateline's characters, end exclusive.", examples=[[0, 28]])
    place: str = Field(description="Where the story was filed.", examples=["Berlin"])
    agency: str = Field(description="The agency the dateline names.", examples=["TASS"])


class Extraction(Public):
    """The source document `POST /v1/import` takes, the attributions behind its claims, and, with
    `write=true`, what writing it did."""

    id: str | None = Field(default=None, description="Echoes nothing: always null here (the CLI's article id).")
    document: SourceDocument = Field(description="The source document `POST /v1/import` takes.")
    attributions: list[AttributionOut] = Field(description="The spans behind each claim, in text order.")
    dateline: DatelineOut | None = Field(default=None, description="The dateline, when the text has one.")
    written: SourceWritten | None = Field(default=None, description="With `write=true`: the ids written.")
