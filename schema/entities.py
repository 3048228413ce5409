"""REST types for entities: `EntitySummary` in lists, `EntityPublic` on its own, `EntityMerge` in."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from schema.common import EXAMPLE_TIME, MAX_ID, EntityBrief, Public
from schema.documents import EntityKind, Strict


class EntitySummary(Public):
    """An entity in a list or search result."""

    id: int = Field(description="The entity's id.", examples=[3], ge=1, le=MAX_ID)
    kind: EntityKind = Field(description="What sort of entity it is.", examples=["person"])
    name: str = Field(description="Its canonical name.", examples=["Friedrich Merz"])
    description: str | None = Field(description="A short description.", examples=["Chancellor of Germany"])


class EntityPage(Public):
    """One page of entities; follow `next_cursor` for the next."""

    data: list[EntitySummary] = Field(description="Best match first when searching, else by id.")
    next_cursor: str | None = Field(description="Opaque cursor of the next page; null on the last.", examples=[None])


class RolePublic(Public):
    """An office an entity holds or held."""

    title: str = Field(description="The office.", examples=["Chancellor of Germany"])
    start: date | None = Field(description="Since when.", examples=["2025-05-06"])
    end: date | None = Field(description="Until when; null while held.", examples=[None])
    organization: EntityBrief | None = Field(description="The organisation the office belongs to.")


class ClaimCounts(Public):
    """How many live claims involve the entity."""

    as_speaker: int = Field(description="Claims it made (or co-signed).", examples=[12], ge=0)
    as_mentioned: int = Field(description="Claims about it.", examples=[40], ge=0)


class EntityPublic(Public):
    """A person, organisation, group, place or event, with every name it goes by."""

    id: int = Field(description="The entity's id.", examples=[3], ge=1, le=MAX_ID)
    kind: EntityKind = Field(description="What sort of entity it is.", examples=["person"])
    name: str = Field(description="Its canonical name.", examples=["Friedrich Merz"])
    description: str | None = Field(description="A short description.", examples=["Chancellor of Germany"])
    aliases: list[str] = Field(
        description="Every name it is found by, the canonical one included.",
        examples=[["Friedrich Merz", "Merz", "German Chancellor Friedrich Merz"]],
    )
    roles: list[RolePublic] = Field(description="Offices, oldest first.")
    external_ids: dict[str, str] = Field(
        description="Identifiers in other databases, by scheme.", examples=[{"wikidata": "Q2514"}]
    )
    claim_counts: ClaimCounts = Field(description="How many live claims it made and is mentioned in.")
    created_at: datetime = Field(description="When it was first recorded.", examples=[EXAMPLE_TIME])
    updated_at: datetime = Field(description="When it last changed (merges included).", examples=[EXAMPLE_TIME])


class EntityMerge(Strict):
    """Which entity absorbs the one in the path."""

    into: int = Field(description="The surviving entity's id.", strict=True, ge=1, le=MAX_ID, examples=[3])
