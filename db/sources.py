"""Sources for REST: pages and single sources as JSON built in PostgreSQL, and the NDJSON export of
source documents in exactly the `SourceDocument` input format (export → import round-trips).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from db.claims import CLAIM_JOINS, CLAIM_JSON, ENTITY_BRIEF, Doc, Page, parts_sql
from db.database import Database
from db.filters import SOURCE_KEY, Cursor, Params, cursor_sql, source_conditions
from db.normalize import source_key
from schema.documents import EntityRef, SourceIn

SOURCE_CLAIMS_SHOWN = 100
EXPORT_BATCH = 50

SOURCE_FIELDS = f"""
  'id', s.id, 'kind', s.kind, 'title', s.title, 'url', s.url,
  'publisher', CASE WHEN p.id IS NULL THEN NULL ELSE {ENTITY_BRIEF.format(e="p")} END,
  'authors', coalesce((SELECT json_agg({ENTITY_BRIEF.format(e="e")} ORDER BY sa.position, sa.entity_id)
                       FROM source_author sa JOIN entity e ON e.id = sa.entity_id WHERE sa.source_id = s.id),
                      '[]'::json),
  'published_at', s.published_at, 'language', s.language,
  'claim_count', (SELECT count(*) FROM appearance a JOIN claim c ON c.id = a.claim_id AND c.deleted_at IS NULL
                  WHERE a.source_id = s.id),
  'created_at', s.created_at"""

GET_SOURCE = f"""
WITH shown AS (
  SELECT a.claim_id AS id, a.id AS ord FROM appearance a JOIN claim c ON c.id = a.claim_id AND c.deleted_at IS NULL
  WHERE a.source_id = $1 ORDER BY a.id LIMIT {SOURCE_CLAIMS_SHOWN}
),
{parts_sql("SELECT id FROM shown")}
SELECT json_build_object({SOURCE_FIELDS},
  'claims', coalesce((SELECT json_agg({CLAIM_JSON} ORDER BY shown.ord)
                      FROM shown JOIN claim c ON c.id = shown.id {CLAIM_JOINS}), '[]'::json)
)::text AS body
FROM source s LEFT JOIN entity p ON p.id = s.publisher_id
WHERE s.id = $1
"""

SOURCE_ROW = "SELECT key, kind, title, url, publisher_id, published_at, language FROM source WHERE id = $1"


def list_sql(
    p: Params,
    *,
    publisher: int | None,
    published_after: datetime | None,
    published_before: datetime | None,
    after: Cursor | None,
    limit: int,
) -> str:
    """Newest first (undated last), keyset on (published_at, id); rows ``(body, next_cursor)``."""
    conds = source_conditions(p, publisher, published_after, published_before)
    if after is not None:
        conds.append(f"({SOURCE_KEY}, s.id) < ({p.add_key(after.key, '::timestamptz')}, {p.add(after.id, '::bigint')})")
    n = p.add(limit, "::int")
    return f"""
WITH page AS MATERIALIZED (
  SELECT s.id, {SOURCE_KEY}::text AS sort_key, row_number() OVER (ORDER BY {SOURCE_KEY} DESC, s.id DESC) AS n
  FROM source s WHERE {" AND ".join(conds)}
  ORDER BY {SOURCE_KEY} DESC, s.id DESC LIMIT {n} + 1
),
nxt AS (SELECT {cursor_sql("sources", "l.sort_key", "l.id::text")} AS cursor FROM page l
        WHERE l.n = {n} AND EXISTS (SELECT 1 FROM page WHERE n > {n}))
SELECT (SELECT json_build_object(
          'data', coalesce(json_agg(json_build_object({SOURCE_FIELDS}) ORDER BY page.n), '[]'::json),
          'next_cursor', (SELECT cursor FROM nxt))
        FROM page JOIN source s ON s.id = page.id LEFT JOIN entity p ON p.id = s.publisher_id
        WHERE page.n <= {n})::text AS body,
       (SELECT cursor FROM nxt) AS next_cursor
"""


async def list_sources(
    db: Database,
    *,
    publisher: int | None = None,
    published_after: datetime | None = None,
    published_before: datetime | None = None,
    after: Cursor | None = None,
    limit: int = 20,
) -> Page:
    """One page of sources as JSON, in one statement."""
    p = Params()
    sql = list_sql(
        p,
        publisher=publisher,
        published_after=published_after,
        published_before=published_before,
        after=after,
        limit=limit,
    )
    row = await db.fetchrow(sql, *p.values)
    assert row is not None
    return Page(row["body"].encode(), row["next_cursor"])


async def get_source(db: Database, source_id: int) -> Doc | None:
    """One source with its first claims (in document order) as JSON, or None."""
    body = await db.fetchval(GET_SOURCE, source_id)
    return None if body is None else Doc(body.encode(), 0)


class SourceNotReferable(Exception):
    """A source whose identity cannot be rebuilt from its stored fields (no URL, offset changed)."""


async def source_ref(db: Database, source_id: int) -> SourceIn | None:
    """An existing source as the writer's `SourceIn`, which resolves back to the same row; None if absent."""
    row = await db.fetchrow(SOURCE_ROW, source_id)
    if row is None:
        return None
    publisher = EntityRef(id=row["publisher_id"]) if row["publisher_id"] else None
    ref = SourceIn(
        kind=row["kind"],
        title=row["title"],
        url=row["url"],
        publisher=publisher,
        published_at=row["published_at"],
        language=row["language"],
    )
    key = source_key(
        url=ref.url,
        kind=ref.kind,
        title=ref.title,
        publisher_id=row["publisher_id"],
        published_at=row["published_at"],
    )
    if key != row["key"]:
        raise SourceNotReferable(f"source {source_id} has no URL to be found again by; send it in full")
    return ref


# --- export -------------------------------------------------------------------------------------


def entity_ref_sql(e: str) -> str:
    """An entity as an `EntityRef` that finds it again in any database: name, kind, aliases, ids, roles."""
    return f"""json_strip_nulls(json_build_object(
  'name', {e}.name, 'kind', {e}.kind, 'description', {e}.description,
  'aliases', (SELECT json_agg(al.alias ORDER BY al.alias COLLATE "C") FROM entity_alias al
              WHERE al.entity_id = {e}.id AND al.norm <> {e}.name_norm),
  'external_ids', (SELECT json_object_agg(x.scheme, x.value ORDER BY x.scheme, x.value) FROM entity_external_id x
                   WHERE x.entity_id = {e}.id),
  'roles', (SELECT json_agg(json_build_object('title', r.title, 'start', r.start_date, 'end', r.end_date)
                            ORDER BY r.start_date NULLS FIRST, r.id)
            FROM entity_role r WHERE r.entity_id = {e}.id)))"""


def source_ref_sql(s: str, *, text: bool) -> str:
    """A source as a `SourceRef` (``text``: as the document's own `SourceIn`, with its full text)."""
    return f"""json_strip_nulls(json_build_object(
  'kind', {s}.kind, 'title', {s}.title, 'url', {s}.url,
  'publisher', (SELECT {entity_ref_sql("pe")} FROM entity pe WHERE pe.id = {s}.publisher_id),
  'authors', (SELECT json_agg({entity_ref_sql("ae")} ORDER BY sa.position, sa.entity_id)
              FROM source_author sa JOIN entity ae ON ae.id = sa.entity_id WHERE sa.source_id = {s}.id),
  'published_at', {s}.published_at, 'language', {s}.language{f", 'text', {s}.text" if text else ""}))"""


LIVE_APPEARANCES = "appearance {a} JOIN claim {c} ON {c}.id = {a}.claim_id AND {c}.deleted_at IS NULL"

EXPORT_CLAIM = f"""json_strip_nulls(json_build_object(
  'content', c.content, 'kind', c.kind, 'language', c.language,
  'said_at', c.said_at, 'said_at_precision', c.said_at_precision,
  'location', (SELECT {entity_ref_sql("le")} FROM entity le WHERE le.id = c.location_id),
  'speakers', (SELECT json_agg(json_build_object('entity', {entity_ref_sql("se")}, 'role', cs.role)
                               ORDER BY cs.position, cs.entity_id)
               FROM claim_speaker cs JOIN entity se ON se.id = cs.entity_id WHERE cs.claim_id = c.id),
  'mentions', (SELECT json_agg({entity_ref_sql("me")} ORDER BY m.entity_id)
               FROM mention m JOIN entity me ON me.id = m.entity_id WHERE m.claim_id = c.id),
  'topics', (SELECT json_agg(t.slug ORDER BY t.slug COLLATE "C")
             FROM claim_topic ct JOIN topic t ON t.id = ct.topic_id WHERE ct.claim_id = c.id),
  'appearance', json_build_object(
     'quote', a.quote,
     'span', CASE WHEN a.span_start IS NULL THEN NULL ELSE json_build_array(a.span_start, a.span_end) END,
     'cited_source', (SELECT {source_ref_sql("cs2", text=False)} FROM source cs2 WHERE cs2.id = a.cited_source_id)),
  'relations', (SELECT json_agg(json_build_object('kind', r.kind, 'claim_index',
                  (SELECT count(*) FROM {LIVE_APPEARANCES.format(a="a2", c="c2")}
                   WHERE a2.source_id = a.source_id AND a2.id < ar.id)) ORDER BY r.kind, r.related_claim_id)
                FROM claim_relation r
                JOIN {LIVE_APPEARANCES.format(a="ar", c="rc")} ON ar.claim_id = r.related_claim_id
                WHERE r.claim_id = c.id AND ar.source_id = a.source_id)))"""

# Relations to claims outside the document are not exported: a claim id means nothing in another
# database, and a dangling one would make the whole line fail on import.
EXPORT_DOCUMENT = f"""json_build_object(
  'source', {source_ref_sql("s", text=True)},
  'claims', coalesce((SELECT json_agg({EXPORT_CLAIM} ORDER BY a.id)
                      FROM {LIVE_APPEARANCES.format(a="a", c="c")} WHERE a.source_id = s.id), '[]'::json),
  'topics', coalesce((SELECT json_agg(json_build_object('slug', t.slug, 'name', t.name) ORDER BY t.slug COLLATE "C")
                      FROM topic t WHERE t.id IN (
                        SELECT ct.topic_id FROM claim_topic ct JOIN {LIVE_APPEARANCES.format(a="ta", c="tc")}
                        ON ta.claim_id = ct.claim_id WHERE ta.source_id = s.id)), '[]'::json))"""


@dataclass(frozen=True)
class SourceFilter:
    """Which sources: by publisher and publication time (half-open, like the claim filters)."""

    publisher: int | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None


async def export_documents(db: Database, f: SourceFilter) -> AsyncIterator[bytes]:
    """Every matching source as one NDJSON line, oldest id first, from one consistent snapshot.

    A server-side cursor fetches `EXPORT_BATCH` documents at a time, so memory stays flat at any size.
    """
    p = Params()
    where = " AND ".join(source_conditions(p, f.publisher, f.published_after, f.published_before))
    sql = f"SELECT {EXPORT_DOCUMENT}::text FROM source s WHERE {where} ORDER BY s.id"
    async with db.transaction(isolation="repeatable_read") as tx:
        async for row in tx.conn.cursor(sql, *p.values, prefetch=EXPORT_BATCH):
            yield row[0].encode() + b"\n"
