"""REST types for sources, topics and bulk import: `SourcePublic`, `SourceWritten`, `ImportReport`…"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schema.claims import ClaimPublic
from schema.common import EXAMPLE_TIME, MAX_ID, EntityBrief, Public, Status
from schema.documents import SourceKind


class SourceSummary(Public):
    """A source (a news article, statement, transcript, post…) in a list."""

    id: int = Field(description="The source's id.", examples=[1], ge=1, le=MAX_ID)
    kind: SourceKind = Field(description="What sort of document it is.", examples=["news_article"])
    title: str | None = Field(description="Its title.", examples=["Merz, Macron, Starmer said they agreed with Rubio"])
    url: str | None = Field(description="Where it is published (its identity).", examples=["https://tass.com/x/1"])
    publisher: EntityBrief | None = Field(description="Who published it: the reporter of its claims.")
    authors: list[EntityBrief] = Field(description="Who wrote it, in byline order.")
    published_at: datetime | None = Field(description="When it was published.", examples=[EXAMPLE_TIME])
    language: str | None = Field(description="BCP 47 language.", examples=["en"])
    claim_count: int = Field(description="How many live claims appear in it.", examples=[6], ge=0)
    created_at: datetime = Field(description="When it was recorded here.", examples=[EXAMPLE_TIME])


class SourcePublic(SourceSummary):
    """A source with the claims that appear in it (the first 100, in document order; page through
    the rest with `GET /v1/claims?source={id}`)."""

    claims: list[ClaimPublic] = Field(description="Claims appearing in the source, in document order.")


class SourcePage(Public):
    """One page of sources, newest first; follow `next_cursor` for the next."""

    data: list[SourceSummary] = Field(description="Newest published first; undated last.")
    next_cursor: str | None = Field(description="Opaque cursor of the next page; null on the last.", examples=[None])


class ClaimWritten(Public):
    """What writing one claim of a document did."""

    id: int = Field(description="The claim's id (new or found again).", examples=[1], ge=1, le=MAX_ID)
    created: bool = Field(description="Whether the claim is new.", examples=[True])
    appearance_created: bool = Field(description="Whether its appearance in this source is new.", examples=[True])


class SourceWritten(Public):
    """What writing a source document did: ids of everything, and what was new."""

    source_id: int = Field(description="The source's id.", examples=[1], ge=1, le=MAX_ID)
    created: bool = Field(description="Whether anything at all was new (then the status is 201).", examples=[True])
    source_created: bool = Field(description="Whether the source itself is new.", examples=[True])
    entities_created: int = Field(description="How many entities were new.", examples=[4], ge=0)
    claims: list[ClaimWritten] = Field(description="Each claim of the document, in order.")


class TopicPublic(Public):
    """A topic and how many live claims are filed under it."""

    slug: str = Field(description="The topic's stable identifier.", examples=["ukraine-crisis"])
    name: str = Field(description="Its display name.", examples=["Ukraine crisis"])
    claim_count: int = Field(description="Live claims filed under it.", examples=[12], ge=0)


class TopicPage(Public):
    """One page of topics, by slug."""

    data: list[TopicPublic] = Field(description="Topics in slug order.")
    next_cursor: str | None = Field(description="Opaque cursor of the next page; null on the last.", examples=[None])


class ImportLine(Public):
    """The outcome of one NDJSON line."""

    line: int = Field(description="1-based line number in the request body.", examples=[1], ge=1)
    status: Status = Field(description="`created` (something new), `unchanged` or `error`.", examples=["created"])
    source_id: int | None = Field(description="The document's source, unless the line failed.", examples=[1])
    errors: list[dict[str, str]] = Field(
        description="Why the line failed: `{field, message}` each; empty unless `status` is `error`.",
        examples=[[{"field": "claims[0].speakers", "message": "Field required"}]],
    )


class ImportReport(Public):
    """Each line's outcome, and totals. Lines are written independently: a bad one blocks nothing."""

    created: int = Field(description="Lines that added something.", examples=[2], ge=0)
    unchanged: int = Field(description="Lines already fully known.", examples=[1], ge=0)
    failed: int = Field(description="Lines that were not written.", examples=[0], ge=0)
    lines: list[ImportLine] = Field(description="One entry per non-blank line, in order.")
