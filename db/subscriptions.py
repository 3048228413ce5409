"""Look-ups for GraphQL subscriptions: whether a new claim matches a subscriber's filter, and the
claims added while the listener was disconnected.
"""

from __future__ import annotations

from db.database import Database
from db.filters import ClaimFilter, Params, count_sql

# Every claim insert fires `pg_notify('claim_added', id)` (the migration's claim_added_notify trigger).
CHANNEL = "claim_added"
PING = "SELECT 1"  # the listener's keep-alive: a half-open connection fails it
LATEST_CLAIM_ID = "SELECT coalesce(max(id), 0) FROM claim"
CLAIM_IDS_AFTER = """
SELECT id FROM claim WHERE id > $1 AND deleted_at IS NULL ORDER BY id LIMIT $2
"""


async def claim_matches(db: Database, claim_id: int, f: ClaimFilter) -> bool:
    """Whether the live claim ``claim_id`` meets every criterion of ``f`` (one statement).

    ``count_sql`` is the filter's own ``SELECT count(*) FROM claim c WHERE …``; narrowed to one
    claim it counts 0 or 1, so subscriptions and ``claims(filter:)`` can never disagree.
    """
    p = Params()
    sql = count_sql(f, p) + f" AND c.id = {p.add(claim_id, '::bigint')}"
    return bool(await db.fetchval(sql, *p.values))


async def latest_claim_id(db: Database) -> int:
    """The highest claim id so far (0 for an empty store)."""
    return int(await db.fetchval(LATEST_CLAIM_ID))


async def claim_ids_after(db: Database, after: int, limit: int = 1000) -> list[int]:
    """Ids of live claims above ``after``, oldest first: what a reconnecting listener missed."""
    return [int(r["id"]) for r in await db.fetch(CLAIM_IDS_AFTER, after, limit)]
