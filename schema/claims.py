"""REST types for claims: `ClaimPublic` out; `ClaimCreate` and `ClaimUpdate` in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from schema.common import EXAMPLE_TIME, MAX_ID, EntityBrief, Public, SourceBrief, TopicBrief
from schema.documents import (
    ClaimIn,
    ClaimKind,
    Language,
    Precision,
    RelationKind,
    SaidAt,
    Slug,
    SourceRef,
    SpeakerRole,
    Strict,
    as_aware,
    at_precision,
)


class ClaimSpeaker(Public):
    """A claim's speaker, in what capacity, and in which order it is credited."""

    id: int = Field(description="The speaking entity's id.", examples=[3], ge=1, le=MAX_ID)
    name: str = Field(description="Its canonical name.", examples=["Friedrich Merz"])
    kind: str = Field(description="What sort of entity it is.", examples=["person"])
    role: SpeakerRole = Field(description="In what capacity it speaks.", examples=["co_signatory"])
    position: int = Field(description="Order of credit, from 0.", examples=[0], ge=0)


class AppearancePublic(Public):
    """Where the claim was reported: the source, the quote as printed there, and whom it credits."""

    source: SourceBrief = Field(description="The reporting source; its publisher is the reporter.")
    quote: str = Field(
        description="The claim exactly as printed in that source.",
        examples=["They tasked their military authorities to complete joint planning work to that effect"],
    )
    span: list[int] | None = Field(
        description="`[start, end)` character offsets of the quote in the source text.",
        examples=[[1052, 1136]],
        min_length=2,
        max_length=2,
    )
    cited_source: SourceBrief | None = Field(
        description="The source the reporter attributes the claim to (e.g. the joint statement)."
    )


class RelatedClaim(Public):
    """Another claim this one relates to."""

    kind: RelationKind = Field(description="How they relate.", examples=["repeats"])
    id: int = Field(description="The related claim's id.", examples=[2], ge=1, le=MAX_ID)
    content: str = Field(description="The related claim's content.", examples=["Security guarantees are needed."])


ReviewState = Literal["curated", "unreviewed", "confirmed", "edited", "rejected"]


class ExtractionOut(Public):
    """The program that extracted a claim from text, its version, and its confidence (0 to 1)."""

    extractor: str = Field(description="The program that extracted the claim.", examples=["claimsbase-extract"])
    version: str = Field(description="Its version.", examples=["1"])
    confidence: float = Field(description="How sure it was, 0 to 1.", ge=0, le=1, examples=[0.91])


class ClaimPublic(Public):
    """A claim, normalised: who said what, when, where, about whom, and who reported it."""

    id: int = Field(description="The claim's id.", examples=[1], ge=1, le=MAX_ID)
    content: str = Field(
        description="What was said.",
        examples=["They tasked their military authorities to complete joint planning work to that effect"],
    )
    kind: ClaimKind = Field(description="How closely `content` follows the speaker's words.", examples=["direct_quote"])
    language: str | None = Field(description="BCP 47 language of the content.", examples=["en"])
    said_at: datetime | None = Field(description="When it was said (ISO 8601 with offset).", examples=[EXAMPLE_TIME])
    said_at_precision: Precision = Field(description="How precisely `said_at` is known.", examples=["day"])
    first_reported_at: datetime | None = Field(
        description="When it was first reported: the earliest appearance's publication time.", examples=[EXAMPLE_TIME]
    )
    location: EntityBrief | None = Field(description="Where it was said.")
    speakers: list[ClaimSpeaker] = Field(description="Who said it, in order of credit.")
    topics: list[TopicBrief] = Field(description="Topics it is filed under, by slug.")
    mentions: list[EntityBrief] = Field(description="Entities the claim is about.")
    appearances: list[AppearancePublic] = Field(description="Where it was reported, earliest first.")
    related: list[RelatedClaim] = Field(description="Claims it repeats, supports, contradicts or responds to.")
    review_state: ReviewState = Field(
        description="`curated` for claims written by hand or imported; an extracted claim is `unreviewed` "
        "until someone with the write scope confirms, edits or rejects it.",
        examples=["curated"],
    )
    extraction: ExtractionOut | None = Field(description="For an extracted claim: who extracted it, how sure.")
    version: int = Field(description="Bumped on every update; part of the ETag.", examples=[1], ge=1)
    created_at: datetime = Field(description="When the claim was first recorded.", examples=[EXAMPLE_TIME])
    updated_at: datetime = Field(description="When the claim was last changed.", examples=[EXAMPLE_TIME])


class ClaimPage(Public):
    """One page of claims; follow `next_cursor` (or the `Link: rel="next"` header) for the next."""

    data: list[ClaimPublic] = Field(description="The claims on this page, in the requested order.")
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page; null on the last page.", examples=["LXNhaWRfYXR8MjAyNS0xMS0yNXwx"]
    )


class SourceById(Strict):
    """An existing source, by id."""

    id: int = Field(description="The source's id.", strict=True, ge=1, le=MAX_ID, examples=[1])


class ClaimCreate(Strict):
    """One claim and where it was reported: a source (known by id, or described) and the claim.

    The claim's `appearance` defaults to its content quoted verbatim.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": {"id": 1},
                    "claim": {
                        "content": "Security guarantees must be robust.",
                        "kind": "direct_quote",
                        "said_at": "2025-11-25",
                        "speakers": [{"entity": {"name": "Keir Starmer", "kind": "person"}}],
                    },
                }
            ]
        }
    )

    source: SourceById | SourceRef = Field(description='The reporting source: `{"id": …}` or a source reference.')
    claim: ClaimIn = Field(description="The claim, as in a source document.")


_UNSET: Any = object()


def _no_default(schema: dict[str, Any]) -> None:
    """Leave ``default: null`` out of a member that may be absent but never null."""
    schema.pop("default", None)


class ClaimUpdate(BaseModel):
    """A JSON merge patch (RFC 7396) of a claim: members present are set, `null` clears, absent keep.

    `said_at` without `said_at_precision` gets `day` for a date and `instant` for a date-time;
    clearing `said_at` clears the precision. `topics` replaces the whole list.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kind": "paraphrase", "topics": ["ukraine-crisis"]}]},
    )

    # content, kind and said_at_precision cannot be cleared: absent (None) keeps them, and the
    # contract admits no null for them (SkipJsonSchema, and no documented default).
    content: Annotated[str, Field(min_length=1, max_length=20000)] | SkipJsonSchema[None] = Field(
        default=None,
        description="New content (changes the claim's identity); cannot be null.",
        examples=["Revised wording."],
        json_schema_extra=_no_default,
    )
    kind: ClaimKind | SkipJsonSchema[None] = Field(
        default=None, description="New kind; cannot be null.", examples=["paraphrase"], json_schema_extra=_no_default
    )
    language: Language | None = Field(default=None, description="New language; null clears.", examples=["en"])
    said_at: SaidAt | None = Field(default=None, description="New date; null clears.", examples=["2025-11-25"])
    said_at_precision: Precision | SkipJsonSchema[None] = Field(
        default=None,
        description="New precision; cannot be null (clear `said_at` instead).",
        examples=["day"],
        json_schema_extra=_no_default,
    )
    topics: list[Slug] | None = Field(
        default=None,
        description="The topics, replacing the current ones; null clears.",
        max_length=20,
        examples=[["ukraine-crisis"]],
    )
    review_state: Literal["confirmed", "edited", "rejected"] | None = Field(
        default=None,
        description="Review an extracted claim. Any other change to an `unreviewed` claim makes it `edited`.",
        examples=["confirmed"],
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        sent = self.model_fields_set
        if "review_state" in sent and self.review_state is None:
            raise ValueError("review_state cannot be cleared")
        if "content" in sent and (self.content is None or not self.content.strip() or "\x00" in self.content):
            raise ValueError("content must be non-blank text without NUL characters")
        if "kind" in sent and self.kind is None:
            raise ValueError("kind cannot be cleared")
        if "said_at_precision" in sent and self.said_at_precision is None:
            raise ValueError("said_at_precision cannot be cleared; clear said_at instead")
        if "said_at" in sent and self.said_at is not None:
            raw = self.said_at
            if self.said_at_precision is None:
                self.said_at_precision = "instant" if isinstance(raw, datetime) else "day"
            self.said_at = at_precision(as_aware(raw), self.said_at_precision)
        if self.said_at_precision == "unknown" and not ("said_at" in sent and self.said_at is None):
            raise ValueError("said_at_precision 'unknown' is set by clearing said_at")
        return self

    def changes(self) -> dict[str, Any]:
        """The members the patch sets, with ``said_at`` cleared → precision ``unknown``."""
        out = {name: getattr(self, name) for name in self.model_fields_set}
        if "said_at" in out and out["said_at"] is None:
            out["said_at_precision"] = "unknown"
        elif "said_at" in out:
            out["said_at_precision"] = self.said_at_precision
        return out


class ClaimLinkedData(BaseModel):
    """A claim as a schema.org `Claim` (JSON-LD), the shape fact-checkers exchange.

    `author` are the speakers, `dateCreated` when it was said, `datePublished` when first reported,
    `appearance` each report as a `NewsArticle` with its `publisher`, `about` the mentions.
    """

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "@context": "https://schema.org",
                    "@type": "Claim",
                    "@id": "https://api.example.org/v1/claims/1",
                    "identifier": 1,
                    "text": "Security guarantees must be robust.",
                    "inLanguage": "en",
                    "dateCreated": "2025-11-25",
                    "datePublished": EXAMPLE_TIME,
                    "author": [{"@type": "Person", "name": "Keir Starmer", "identifier": 4}],
                    "about": [{"@type": "Thing", "name": "Ukraine", "identifier": 5}],
                    "appearance": [
                        {
                            "@type": "NewsArticle",
                            "headline": "Leaders agree with Rubio",
                            "url": "https://tass.com/world/2051789",
                            "datePublished": EXAMPLE_TIME,
                            "publisher": {"@type": "Organization", "name": "TASS", "identifier": 2},
                        }
                    ],
                }
            ]
        },
    )

    context: str = Field(alias="@context", description="Always `https://schema.org`.", examples=["https://schema.org"])
    type: str = Field(alias="@type", description="Always `Claim`.", examples=["Claim"])
    id: str = Field(alias="@id", description="The claim's URL.", examples=["https://api.example.org/v1/claims/1"])
    identifier: int = Field(description="The claim's id.", examples=[1])
    text: str = Field(description="What was said.", examples=["Security guarantees must be robust."])
    inLanguage: str | None = Field(description="Language of the text.", examples=["en"])
    dateCreated: str | None = Field(
        description="When it was said, in ISO 8601 at its precision: `2025`, `2025-11`, `2025-11-26` or a date-time.",
        pattern=r"^\d{4}(-\d{2}(-\d{2}(T.+)?)?)?$",
        examples=["2025-11-25"],
    )
    datePublished: datetime | None = Field(description="When it was first reported.", examples=[EXAMPLE_TIME])
    author: list[dict[str, Any]] = Field(
        description="The speakers as `Person` or `Organization`.",
        examples=[[{"@type": "Person", "name": "Keir Starmer", "identifier": 4}]],
    )
    about: list[dict[str, Any]] = Field(
        description="Entities the claim mentions, as `Thing`s.", examples=[[{"@type": "Thing", "name": "Ukraine"}]]
    )
    appearance: list[dict[str, Any]] = Field(
        description="Each report of the claim as a `NewsArticle` with `publisher`, `url`, `datePublished`.",
        examples=[[{"@type": "NewsArticle", "headline": "Leaders agree", "url": "https://tass.com/world/2051789"}]],
    )
