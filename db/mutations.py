"""Small reads GraphQL mutations need besides the shared writes in db/claims.py and db/entities.py."""

from __future__ import annotations

from db.database import Database

CLAIM_VERSION = "SELECT version FROM claim WHERE id = $1 AND deleted_at IS NULL"


async def claim_version(db: Database, claim_id: int) -> int | None:
    """A live claim's version (what ``updateClaim(expectedVersion:)`` compares), or None."""
    version = await db.fetchval(CLAIM_VERSION, claim_id)
    return None if version is None else int(version)
