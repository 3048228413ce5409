"""Response types shared by every REST resource: problems, brief references, pages.

The REST reads build their JSON in PostgreSQL and pass the bytes through; these models *document*
that JSON in OpenAPI (``response_model``) and are checked against it by the tests and schemathesis,
not by validating every response at runtime.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schema.documents import EntityKind, SourceKind

MAX_ID = 2**63 - 1
ID_RULE = f"an id is written in ASCII digits, 1 to {MAX_ID}"


def parse_id(text: str) -> int | None:
    """The id ``text`` writes in ASCII digits (1 … `MAX_ID`), or None: ``"٣"``, ``"¹"``, ``"+3"``,
    ``" 3"`` and ``"3.0"`` are not ids, whatever Python's ``int`` makes of them."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def id_text(value: object) -> object:
    """A pydantic before-validator for ids that arrive as text (a path segment): `parse_id`'s rule."""
    if isinstance(value, str):
        parsed = parse_id(value)
        if parsed is None:
            raise ValueError(ID_RULE)
        return parsed
    return value


EXAMPLE_TIME = "2025-11-26T00:00:00+00:00"


class Public(BaseModel):
    """Base of the response models: documented, examples everywhere."""

    model_config = ConfigDict(extra="forbid")


class FieldError(Public):
    """One offending field of a request."""

    field: str = Field(
        description="Where the problem is: `query.limit`, `body.claims[0].content`, `header.If-Match`.",
        examples=["query.limit"],
    )
    message: str = Field(description="What is wrong with it.", examples=["Input should be less than or equal to 100"])


class Problem(Public):
    """An RFC 9457 problem document: every error this API returns has this shape."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://claimsbase.dev/problems/not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "No claim with id 42.",
                    "instance": "/v1/claims/42",
                }
            ]
        },
    )

    type: str = Field(
        description="A URI naming the kind of problem.", examples=["https://claimsbase.dev/problems/validation"]
    )
    title: str = Field(description="A short summary of the kind of problem.", examples=["Invalid request"])
    status: int = Field(description="The HTTP status code.", examples=[422])
    detail: str = Field(description="What went wrong with this request.", examples=["query.limit: too large"])
    instance: str | None = Field(default=None, description="The request path.", examples=["/v1/claims"])
    errors: list[FieldError] | None = Field(
        default=None, description="The offending fields, on validation errors.", examples=[None]
    )


class EntityBrief(Public):
    """An entity as other resources refer to it."""

    id: int = Field(description="The entity's id.", examples=[3], ge=1, le=MAX_ID)
    name: str = Field(description="Its canonical name.", examples=["Friedrich Merz"])
    kind: EntityKind = Field(description="What sort of entity it is.", examples=["person"])


class SourceBrief(Public):
    """A source as other resources refer to it: what it is, where, who published it, when."""

    id: int = Field(description="The source's id.", examples=[1], ge=1, le=MAX_ID)
    kind: SourceKind = Field(description="What sort of document it is.", examples=["news_article"])
    title: str | None = Field(description="Its title.", examples=["Merz, Macron, Starmer said they agreed with Rubio"])
    url: str | None = Field(description="Where it is published.", examples=["https://tass.com/world/2051789"])
    publisher: EntityBrief | None = Field(description="Who published it (the reporter).")
    published_at: datetime | None = Field(
        description="When it was published (ISO 8601 with offset).", examples=[EXAMPLE_TIME]
    )


class TopicBrief(Public):
    """A topic a claim is filed under."""

    slug: str = Field(description="The topic's stable identifier.", examples=["ukraine-crisis"])
    name: str = Field(description="Its display name.", examples=["Ukraine crisis"])


class EntityMoved(Public):
    """Body of the redirect from an entity that was merged into another."""

    id: int = Field(description="The id that was requested.", examples=[7], ge=1, le=MAX_ID)
    merged_into: int = Field(description="The entity it was merged into.", examples=[3], ge=1, le=MAX_ID)
    location: str = Field(description="Where the entity lives now.", examples=["/v1/entities/3"])


Status = Literal["created", "unchanged", "error"]
