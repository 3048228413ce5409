"""The source document: one source with its claims — the shape every write goes through.

The demo data, `claims load`, `POST /v1/sources`, `POST /v1/import` and GraphQL `importSource` all
hand one of these to `db.documents.write_source_document`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

EntityKind = Literal["person", "organization", "group", "place", "event", "other"]
SourceKind = Literal["news_article", "statement", "transcript", "social_post", "press_release", "fact_check", "other"]
ClaimKind = Literal["direct_quote", "partial_quote", "paraphrase"]
Precision = Literal["instant", "day", "month", "year", "unknown"]
SpeakerRole = Literal["speaker", "co_signatory", "on_behalf_of"]
RelationKind = Literal["repeats", "supports", "contradicts", "responds_to"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100)]


def _parsable_url(url: str) -> str:
    """A URL the store can normalise: it parses, names a host, and any port is a real one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if not parts.hostname:
        raise ValueError("the URL names no host")
    return url


Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=2000), AfterValidator(_parsable_url)]
SchemeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]

# Dates a claims database can hold: the printing press to the end of the century. Year 0 and
# year 99999 are typos, not history.
EARLIEST = datetime(1400, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


# A claim can be reported late, never said late: "said at" more than a day ahead of now is a typo.
FUTURE_SLACK = timedelta(days=1)


CALENDAR_DATE = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")


def iso_only(value: Any) -> Any:
    """Dates come as ISO 8601 strings: a number (which pydantic would read as seconds since 1970) is refused."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().lstrip("+-").isdigit()):
        raise ValueError("must be an ISO 8601 date or date-time string, such as 2025-11-26 or 2025-11-26T09:00:00Z")
    if isinstance(value, str) and CALENDAR_DATE.match(value):
        # A bare date stays a date (day precision): pydantic would otherwise read it as midnight.
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"is not a date on the calendar ({exc})") from None
    return value


IsoDate = Annotated[date, BeforeValidator(iso_only)]
IsoWhen = Annotated[datetime | date, BeforeValidator(iso_only)]


def not_future(value: datetime | date) -> datetime | date:
    """Refuses moments in the future: nobody has said anything in 2056 yet."""
    if as_aware(value) > datetime.now(UTC) + FUTURE_SLACK:
        raise ValueError("must not be in the future (a claim is reported after it is said)")
    return value


SaidAt = Annotated[datetime | date, BeforeValidator(iso_only), AfterValidator(not_future)]


def at_precision(value: datetime, precision: str) -> datetime:
    """``value`` cut to ``precision`` (``year``, ``month``, ``day``; others unchanged), as the start
    of that period at midnight UTC: a claim said "in 2025" is stored as 2025-01-01T00:00Z, never as
    an instant nobody gave. The calendar fields are those the writer gave (their own offset)."""
    if precision == "year":
        return datetime(value.year, 1, 1, tzinfo=UTC)
    if precision == "month":
        return datetime(value.year, value.month, 1, tzinfo=UTC)
    if precision == "day":
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


def published_not_future(value: datetime) -> datetime:
    """Refuses a publication in the future (beyond `FUTURE_SLACK`): nothing is reported before it happens."""
    if value > datetime.now(UTC) + FUTURE_SLACK:
        raise ValueError("must not be in the future")
    return value


Offset = Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)]  # a character offset (PostgreSQL int4)


class Strict(BaseModel):
    """Unknown fields are errors: a misspelt field must not be silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def as_aware(value: datetime | date) -> datetime:
    """A date or date-time as an aware date-time; naive values are taken as UTC."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year - 1}")
    return value


class RoleIn(Strict):
    """An office an entity holds: ``{"title": "Chancellor of Germany", "start": "2025-05-06"}``."""

    title: Name = Field(description="The office, as it is usually written.", examples=["Chancellor of Germany"])
    start: IsoDate | None = Field(default=None, description="When it began (ISO 8601 date).", examples=["2025-05-06"])
    end: IsoDate | None = Field(
        default=None, description="When it ended (ISO 8601 date); absent while it lasts.", examples=[None]
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start and self.end and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class EntityRef(Strict):
    """An entity by id, by external id, or by name/alias (created when nothing matches).

    ``{"id": 3}``, ``{"external_ids": {"wikidata": "Q2514"}}`` or
    ``{"name": "Friedrich Merz", "kind": "person", "aliases": ["Merz"]}``.
    """

    id: int | None = Field(
        default=None, strict=True, ge=1, le=2**63 - 1, description="An existing entity's id.", examples=[1]
    )
    name: Name | None = Field(
        default=None,
        description="Its canonical name; found again by any alias (case and accents ignored), else created.",
        examples=["Friedrich Merz"],
    )
    kind: EntityKind | None = Field(default=None, description="What it is (when it is created).", examples=["person"])
    aliases: list[Name] = Field(
        default_factory=list, max_length=50, description="Other names it goes by.", examples=[["Merz"]]
    )
    external_ids: dict[SchemeName, Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=dict,
        max_length=10,
        description="Identifiers in other databases, by scheme (`wikidata`: a QID); they identify it first.",
        examples=[{"wikidata": "Q2514"}],
    )
    description: Annotated[str, StringConstraints(max_length=5000)] | None = Field(
        default=None, description="A short description.", examples=["Chancellor of Germany"]
    )
    roles: list[RoleIn] = Field(default_factory=list, max_length=50, description="Offices it holds or held.")

    @field_validator("name", "description")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else _no_nul(value)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        return [_no_nul(v) for v in value]

    @field_validator("external_ids")
    @classmethod
    def _wikidata(cls, value: dict[str, str]) -> dict[str, str]:
        qid = value.get("wikidata")
        if qid is not None and not (qid[:1] == "Q" and qid[1:].isdigit() and qid[1:2] != "0"):
            raise ValueError("wikidata ids look like Q2514")
        return value

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if self.id is None and self.name is None and not self.external_ids:
            raise ValueError("give the entity an id, a name or an external id")
        return self


class SourceRef(Strict):
    """A source that is cited or reported: found again by URL, else by kind, title, publisher, date."""

    kind: SourceKind = Field(description="What kind of document it is.", examples=["news_article"])
    title: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None,
        description="Its title or headline (a source needs a URL or a title).",
        examples=["Merz, Macron, Starmer said they agreed with Rubio"],
    )
    url: Url | None = Field(
        default=None, description="Where it is published; identifies it.", examples=["https://tass.com/world/2051789"]
    )
    publisher: EntityRef | None = Field(default=None, description="Who published it (the reporter of its claims).")
    authors: list[EntityRef] = Field(default_factory=list, max_length=50, description="Who wrote it.")
    published_at: IsoWhen | None = Field(
        default=None,
        description="When it was published (ISO 8601; a date means midnight UTC); not in the future.",
        examples=["2025-11-26T10:00:00+00:00"],
    )
    language: Language | None = Field(default=None, description="Its language (BCP 47).", examples=["en"])

    @field_validator("published_at")
    @classmethod
    def _when(cls, value: datetime | date | None) -> datetime | None:
        return None if value is None else published_not_future(as_aware(value))

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        return None if value is None else _no_nul(value)

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if not self.url and not self.title:
            raise ValueError("a source needs a url or a title")
        return self


class SourceIn(SourceRef):
    """The document itself; may carry its full text, against which appearance spans are checked."""

    text: Annotated[str, StringConstraints(max_length=1_000_000)] | None = Field(
        default=None, description="Its full text; appearance spans are checked against it.", examples=[None]
    )

    @field_validator("text")
    @classmethod
    def _body(cls, value: str | None) -> str | None:
        return None if value is None else _no_nul(value)


class SpeakerIn(Strict):
    """Who said it, and in what capacity."""

    entity: EntityRef = Field(description="The entity that said it.")
    role: SpeakerRole = Field(default="speaker", description="In what capacity.", examples=["speaker"])


class AppearanceIn(Strict):
    """How the claim is printed in this document: the exact quote, where, and whom it credits."""

    quote: Annotated[str, StringConstraints(min_length=1, max_length=20000)] = Field(
        description="The claim's words exactly as printed in this document (punctuation included).",
        examples=["They tasked their military authorities to complete joint planning work to that effect"],
    )
    span: tuple[Offset, Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]] | None = Field(
        default=None,
        description="[start, end) character offsets of the quote in the source's text.",
        examples=[[1052, 1136]],
    )
    cited_source: SourceRef | None = Field(
        default=None, description='The source this document attributes the claim to ("the statement says…").'
    )

    @field_validator("quote")
    @classmethod
    def _quote(cls, value: str) -> str:
        return _no_nul(value)

    @model_validator(mode="after")
    def _span(self) -> Self:
        if self.span and self.span[1] <= self.span[0]:
            raise ValueError("span end must be after its start")
        return self


class RelationIn(Strict):
    """A link to another claim: by id, or by position in this document's claims list."""

    kind: RelationKind = Field(description="How this claim relates to the other.", examples=["supports"])
    claim_id: int | None = Field(
        default=None, strict=True, ge=1, le=2**63 - 1, description="The other claim's id.", examples=[1]
    )
    claim_index: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        description="The other claim's position in this document's `claims`.",
        examples=[0],
    )

    @model_validator(mode="after")
    def _target(self) -> Self:
        if (self.claim_id is None) == (self.claim_index is None):
            raise ValueError("give exactly one of claim_id or claim_index")
        return self


class ExtractionIn(Strict):
    """Who extracted a claim from text, and how sure it was: such a claim starts `unreviewed`."""

    extractor: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The program that extracted the claim.", examples=["claimsbase-extract"]
    )
    version: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="Its version.", examples=["1"]
    )
    confidence: float = Field(
        strict=True, ge=0, le=1, allow_inf_nan=False, description="How sure it was, 0 to 1.", examples=[0.91]
    )


class ClaimIn(Strict):
    """One claim as this document reports it."""

    content: Annotated[str, StringConstraints(min_length=1, max_length=20000)] = Field(
        description="What was said; with the speakers, it identifies the claim.",
        examples=["They tasked their military authorities to complete joint planning work to that effect"],
    )
    kind: ClaimKind = Field(
        default="direct_quote", description="Quoted, partly quoted or paraphrased.", examples=["direct_quote"]
    )
    language: Language | None = Field(default=None, description="The content's language (BCP 47).", examples=["en"])
    said_at: SaidAt | None = Field(
        default=None,
        description="When it was said (ISO 8601); not in the future.",
        examples=["2025-11-25"],
    )
    said_at_precision: Precision | None = Field(
        default=None,
        description="How precise `said_at` is; defaults to `day` for dates, `instant` for date-times.",
        examples=["day"],
    )
    location: EntityRef | None = Field(default=None, description="Where it was said.")
    speakers: list[SpeakerIn] = Field(min_length=1, max_length=50, description="Who said it, in order.")
    mentions: list[EntityRef] = Field(default_factory=list, max_length=100, description="Entities the claim is about.")
    topics: list[Slug] = Field(
        default_factory=list, max_length=20, description="Topic slugs to file it under.", examples=[["ukraine-crisis"]]
    )
    appearance: AppearanceIn | None = Field(
        default=None, description="How it is printed in this document; defaults to its content quoted verbatim."
    )
    relations: list[RelationIn] = Field(
        default_factory=list, max_length=50, description="Links to other claims (repeats, supports…)."
    )
    extraction: ExtractionIn | None = Field(
        default=None, description="Set by extractors: the claim is then recorded as `unreviewed`."
    )

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return _no_nul(value)

    @model_validator(mode="after")
    def _appears(self) -> Self:
        # A claim in a document appears in that document: as printed, its content verbatim.
        if self.appearance is None:
            self.appearance = AppearanceIn(quote=self.content)
        return self

    @model_validator(mode="after")
    def _when(self) -> Self:
        raw = self.said_at
        if raw is None:
            if self.said_at_precision not in (None, "unknown"):
                raise ValueError("said_at_precision needs said_at")
            self.said_at_precision = "unknown"
            return self
        if self.said_at_precision is None:
            self.said_at_precision = "instant" if isinstance(raw, datetime) else "day"
        elif self.said_at_precision == "unknown":
            raise ValueError("said_at_precision 'unknown' contradicts a given said_at")
        self.said_at = at_precision(as_aware(raw), self.said_at_precision)
        return self


class TopicIn(Strict):
    """A topic's display name for a slug used by the claims."""

    slug: Slug = Field(description="The topic's slug, as the claims use it.", examples=["ukraine-crisis"])
    name: Name = Field(description="Its display name.", examples=["Ukraine crisis"])


class SourceDocument(Strict):
    """A source with its claims, speakers, appearances and mentions, written in one transaction."""

    source: SourceIn = Field(description="The document.")
    claims: list[ClaimIn] = Field(default_factory=list, max_length=1000, description="The claims it reports, in order.")
    topics: list[TopicIn] = Field(
        default_factory=list, max_length=100, description="Display names for topic slugs its claims use."
    )

    @model_validator(mode="after")
    def _said_before_published(self) -> Self:
        published = self.source.published_at
        if not isinstance(published, datetime):
            return self
        late = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "said_after_published",
                    "said after the source was published ({published})",
                    {"published": str(published.date())},
                ),
                loc=("claims", i, "said_at"),
                input=claim.said_at,
            )
            for i, claim in enumerate(self.claims)
            # A day of slack, as for the future: a date-only publication stands for its midnight UTC.
            if isinstance(claim.said_at, datetime) and claim.said_at > published + FUTURE_SLACK
        ]
        if late:
            raise ValidationError.from_exception_data(type(self).__name__, late)
        return self

    @model_validator(mode="after")
    def _references(self) -> Self:
        for i, claim in enumerate(self.claims):
            for rel in claim.relations:
                if rel.claim_index is not None and not (0 <= rel.claim_index < len(self.claims)):
                    raise ValueError(f"claims[{i}].relations: claim_index {rel.claim_index} is out of range")
                if rel.claim_index == i:
                    raise ValueError(f"claims[{i}].relations: a claim cannot relate to itself")
        text = self.source.text
        if text is not None:
            for i, claim in enumerate(self.claims):
                app = claim.appearance
                if app and app.span and text[app.span[0] : app.span[1]] != app.quote:
                    raise ValueError(f"claims[{i}].appearance.span does not cover the quote in source.text")
        return self
