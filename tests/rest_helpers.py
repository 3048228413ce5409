"""Small builders shared by the REST tests: source documents and quotes."""

from __future__ import annotations

from typing import Any

from db.database import Database
from db.demo_data import load_demo
from db.documents import WriteResult, write_source_document
from schema.documents import SourceDocument

MERZ = {"name": "Friedrich Merz", "kind": "person", "aliases": ["Merz"], "external_ids": {"wikidata": "Q2514"}}
STARMER = {"name": "Keir Starmer", "kind": "person", "aliases": ["Starmer"]}
TASS = {"name": "TASS", "kind": "organization"}
REUTERS = {"name": "Reuters", "kind": "organization"}


def quote(content: str, *speakers: dict[str, Any], said_at: str | None = "2025-11-25", **extra: Any) -> dict[str, Any]:
    """A claim dict: ``content`` said by ``speakers`` (Merz by default), quoted verbatim."""
    return {
        "content": content,
        "said_at": said_at,
        "speakers": [{"entity": s} for s in (speakers or (MERZ,))],
        "appearance": {"quote": content},
        **extra,
    }


def document(url: str, *claims: dict[str, Any], publisher: dict[str, Any] = TASS, **source: Any) -> dict[str, Any]:
    """A source document dict published by ``publisher`` at ``url``."""
    return {
        "source": {
            "kind": "news_article",
            "title": f"Report {url}",
            "url": url,
            "publisher": publisher,
            "published_at": "2025-11-26T09:00:00+00:00",
            **source,
        },
        "claims": list(claims),
    }


async def write(db: Database, doc: dict[str, Any]) -> WriteResult:
    """Write a document dict through the store."""
    return await write_source_document(db, SourceDocument.model_validate(doc))


async def demo(db: Database) -> None:
    """Load the demo article."""
    await load_demo(db)


ENUMS = {"kind", "role", "said_at_precision"}


def graphql_input(value: Any) -> Any:
    """A REST body (snake_case, lower-case enums, external ids as a map) as GraphQL's typed input."""
    if isinstance(value, list):
        return [graphql_input(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        head, *rest = key.split("_")
        name = head + "".join(part.title() for part in rest)
        if key == "external_ids":
            out[name] = [{"scheme": k, "value": v} for k, v in item.items()]
        elif key in ENUMS and isinstance(item, str):
            out[name] = item.upper()
        elif key in ("id", "claim_id") and isinstance(item, int):
            out[name] = str(item)
        else:
            out[name] = graphql_input(item)
    return out
