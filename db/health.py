"""Readiness: the database answers and every migration is applied."""

from __future__ import annotations

from db.database import Database
from db.migrate import pending


async def readiness(db: Database) -> dict[str, object]:
    """``{"database": "ok", "pending_migrations": []}``; raises `DatabaseUnavailable` when unreachable."""
    async with db.acquire() as conn:
        missing = await pending(conn)
    return {"database": "ok", "pending_migrations": missing}
