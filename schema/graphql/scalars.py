"""Global ids and date scalars, written exactly as PostgreSQL's compiled path writes them."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime

import strawberry
from graphql import GraphQLError

from schema.documents import as_aware

TYPES = ("Claim", "Entity", "Source", "Appearance", "Topic", "EntityRole")


def to_global_id(type_name: str, row_id: int) -> strawberry.ID:
    """``to_global_id("Claim", 12) == "Q2xhaW06MTI="`` (base64 of ``Claim:12``, as Relay does)."""
    return strawberry.ID(base64.b64encode(f"{type_name}:{row_id}".encode()).decode())


def _a(type_name: str) -> str:
    """``_a("Entity") == "an Entity"``, ``_a("Claim") == "a Claim"``."""
    return ("an " if type_name[:1] in "AEIOU" else "a ") + type_name


def decimal(text: str) -> bool:
    """Whether ``text`` is ASCII digits only: `str.isdigit` also takes "¹", "②" and "٣", which `int`
    refuses or reads as another number."""
    return text.isascii() and text.isdigit()


def from_global_id(value: str, expected: str | None = None, argument: str = "id") -> tuple[str, int]:
    """(type name, row id) of a global id; a plain decimal (ASCII digits) is a row id of ``expected``."""
    if expected and decimal(value) and len(value) < 19:
        return expected, int(value)
    try:
        # = base64.b64decode(value.encode(), validate=True), in one C call (the same values accepted)
        type_name, _, raw = binascii.a2b_base64(value, strict_mode=True).decode().partition(":")
        if type_name not in TYPES or not decimal(raw) or len(raw) > 18 or int(raw) < 1:
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise GraphQLError(f"{argument}: {value[:80]!r} is not a valid id") from exc
    if expected and type_name != expected:
        raise GraphQLError(f"{argument}: expected the id of {_a(expected)}, got one of {_a(type_name)}")
    return type_name, int(raw)


def serialize_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with its offset; fractions without trailing zeros (as PostgreSQL's to_json)."""
    text = value.astimezone(UTC).isoformat()
    if "." in text:
        head, _, tail = text.partition(".")
        fraction, offset = tail[:6].rstrip("0"), tail[6:]
        text = f"{head}.{fraction}{offset}" if fraction else f"{head}{offset}"
    return text


def parse_datetime(value: object) -> datetime:
    """A date or date-time in ISO 8601; naive values are UTC; years 1400–2099."""
    if not isinstance(value, str):
        raise GraphQLError("expected an ISO 8601 date or date-time string")
    try:
        parsed: datetime | date = (
            datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        )
        return as_aware(parsed)
    except ValueError as exc:
        raise GraphQLError(f"not a valid date-time: {exc}") from exc


DATETIME = strawberry.scalar(
    name="DateTime",
    description="An ISO 8601 date-time with offset (always UTC in responses); inputs may be dates.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
# Fields are annotated with plain `datetime`; the schema maps it to DATETIME (StrawberryConfig.scalar_map).
DateTime = datetime
