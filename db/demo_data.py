"""The demo data set: the TASS article of 26 Nov 2025, normalised by hand (db/demo/)."""

from __future__ import annotations

from importlib import resources

from db.database import Database
from db.documents import WriteResult, write_source_document
from schema.documents import SourceDocument


def demo_documents() -> list[SourceDocument]:
    """Every source document shipped under db/demo/."""
    folder = resources.files("db") / "demo"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return [SourceDocument.model_validate_json(f.read_bytes()) for f in files]


async def load_demo(db: Database) -> list[WriteResult]:
    """Write the demo documents through the ordinary import path (idempotent)."""
    return [await write_source_document(db, doc) for doc in demo_documents()]
