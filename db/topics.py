"""Topics for REST: pages of topics with claim counts, as JSON built in PostgreSQL."""

from __future__ import annotations

import base64
import binascii
import re

from db.claims import Page
from db.database import Database
from db.filters import CursorError

SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")

LIST_TOPICS = """
WITH page AS MATERIALIZED (
  SELECT t.id, t.slug, t.name, row_number() OVER (ORDER BY t.slug COLLATE "C") AS n FROM topic t
  WHERE $1::text IS NULL OR t.slug COLLATE "C" > $1::text
  ORDER BY t.slug COLLATE "C" LIMIT $2::int + 1
),
nxt AS (SELECT rtrim(translate(encode(convert_to('topics|' || slug, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')
               AS cursor FROM page WHERE n = $2 AND EXISTS (SELECT 1 FROM page WHERE n > $2))
SELECT (SELECT json_build_object(
          'data', coalesce(json_agg(json_build_object(
             'slug', page.slug, 'name', page.name,
             'claim_count', (SELECT count(*) FROM claim_topic ct JOIN claim c ON c.id = ct.claim_id
                             AND c.deleted_at IS NULL WHERE ct.topic_id = page.id)) ORDER BY page.n), '[]'::json),
          'next_cursor', (SELECT cursor FROM nxt))
        FROM page WHERE page.n <= $2)::text AS body,
       (SELECT cursor FROM nxt) AS next_cursor
"""


def topic_cursor(text: str) -> str:
    """The slug a topics cursor starts after; `CursorError` for anything this API did not issue."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise CursorError("the cursor is not one this API issued") from exc
    kind, _, slug = raw.partition("|")
    if kind != "topics" or not SLUG.fullmatch(slug):
        raise CursorError("the cursor is not one this API issued")
    return slug


async def list_topics(db: Database, *, after: str | None, limit: int) -> Page:
    """One page of topics in slug order, with their live claim counts."""
    row = await db.fetchrow(LIST_TOPICS, after, limit)
    assert row is not None
    return Page(row["body"].encode(), row["next_cursor"])
