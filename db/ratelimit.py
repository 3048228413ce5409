"""Rate-limit counters kept in PostgreSQL: one row per (bucket, window), shared by every worker."""

from __future__ import annotations

from datetime import UTC, datetime

from db.database import Database

# One statement per reservation; the row lock it takes is held only for the statement. Counters
# need no durability (a crash forgets at most this minute's counts), so the statement turns off
# `synchronous_commit` for its own implicit transaction: the commit no longer waits for the WAL
# flush, which halves its time. The setting is transaction-local and ends with the statement.
RESERVE_HITS = """
INSERT INTO rate_limit AS r (bucket, window_start, hits)
SELECT $1, $2, $3 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS no_flush_wait
ON CONFLICT (bucket, window_start) DO UPDATE SET hits = r.hits + EXCLUDED.hits
RETURNING hits
"""

DELETE_WINDOWS_BEFORE = "DELETE FROM rate_limit WHERE window_start < $1"


def window_time(epoch_s: float) -> datetime:
    """``window_time(0) == datetime(1970, 1, 1, tzinfo=UTC)``."""
    return datetime.fromtimestamp(epoch_s, UTC)


async def reserve_hits(db: Database, bucket: str, window_start: float, hits: int) -> int:
    """Add ``hits`` to the bucket's counter for the window starting at ``window_start``; the new total."""
    total: int = await db.fetchval(RESERVE_HITS, bucket, window_time(window_start), hits)
    return total


async def delete_windows_before(db: Database, window_start: float) -> None:
    """Forget the counters of windows that started before ``window_start``."""
    await db.execute(DELETE_WINDOWS_BEFORE, window_time(window_start))
