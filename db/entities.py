"""Entities for REST: name search and single entities as JSON built in PostgreSQL, and merges."""

from __future__ import annotations

from dataclasses import dataclass

from db.claims import ENTITY_BRIEF, Doc, Page
from db.database import Database, Traced
from db.filters import Cursor, Params, cursor_sql
from db.normalize import claim_fingerprint, name_norm, prefix_tsquery, source_key
from db.writes import LOCK_KEYS, MERGE_LOCK

ENTITY_SUMMARY = "json_build_object('id', e.id, 'kind', e.kind, 'name', e.name, 'description', e.description)"

GET_ENTITY = f"""
SELECT e.merged_into, json_build_object(
  'id', e.id, 'kind', e.kind, 'name', e.name, 'description', e.description,
  'aliases', coalesce((SELECT json_agg(al.alias ORDER BY al.alias COLLATE "C") FROM entity_alias al
                       WHERE al.entity_id = e.id), '[]'::json),
  'roles', coalesce((SELECT json_agg(json_build_object(
                       'title', r.title, 'start', r.start_date, 'end', r.end_date,
                       'organization', CASE WHEN o.id IS NULL THEN NULL ELSE {ENTITY_BRIEF.format(e="o")} END)
                       ORDER BY r.start_date NULLS FIRST, r.id)
                     FROM entity_role r LEFT JOIN entity o ON o.id = r.organization_id WHERE r.entity_id = e.id),
                    '[]'::json),
  'external_ids', coalesce((SELECT json_object_agg(x.scheme, x.value ORDER BY x.scheme, x.value)
                            FROM entity_external_id x WHERE x.entity_id = e.id), '{{}}'::json),
  'claim_counts', json_build_object(
     'as_speaker', (SELECT count(*) FROM claim_speaker cs JOIN claim c ON c.id = cs.claim_id AND c.deleted_at IS NULL
                    WHERE cs.entity_id = e.id),
     'as_mentioned', (SELECT count(*) FROM mention m JOIN claim c ON c.id = m.claim_id AND c.deleted_at IS NULL
                      WHERE m.entity_id = e.id)),
  'created_at', e.created_at, 'updated_at', e.updated_at
)::text AS body
FROM entity e WHERE e.id = $1
"""


def search_sql(p: Params, *, q: str | None, kind: str | None, after: Cursor | None, limit: int) -> tuple[str, str]:
    """The page statement and its cursor ordering: ranked by name match with ``q``, else by id.

    A name counts most when it equals the query, then by full-text rank over every alias.
    """
    conds = ["e.merged_into IS NULL"]
    if kind is not None:
        conds.append(f"e.kind = {p.add(kind)}")
    if q is not None:
        sort = "entities-rank"
        tsq = f"(SELECT to_tsquery('simple', {p.add(prefix_tsquery(q) or '')}))"  # once per statement
        ranked = (
            f"SELECT al.entity_id AS id, max(ts_rank(al.search, {tsq}) + (al.norm = {p.add(name_norm(q))})::int)::real"
            f" AS rank FROM entity_alias al WHERE al.search @@ {tsq} GROUP BY al.entity_id"
        )
        if after is not None:
            conds.append(f"(h.rank, -h.id) < ({p.add_key(after.key, '::real')}, -{p.add(after.id, '::bigint')})")
        order = "h.rank DESC, h.id ASC"
        rows = f"SELECT h.id, h.rank::text AS sort_key, row_number() OVER (ORDER BY {order}) AS n FROM ({ranked}) h"
        rows += f" JOIN entity e ON e.id = h.id WHERE {' AND '.join(conds)} ORDER BY {order}"
    else:
        sort = "entities"
        if after is not None:
            conds.append(f"e.id > {p.add(after.id, '::bigint')}")
        rows = (
            "SELECT e.id, e.id::text AS sort_key, row_number() OVER (ORDER BY e.id) AS n FROM entity e"
            f" WHERE {' AND '.join(conds)} ORDER BY e.id"
        )
    n = p.add(limit, "::int")
    sql = f"""
WITH page AS MATERIALIZED ({rows} LIMIT {n} + 1),
nxt AS (SELECT {cursor_sql(sort, "l.sort_key", "l.id::text")} AS cursor FROM page l
        WHERE l.n = {n} AND EXISTS (SELECT 1 FROM page WHERE n > {n}))
SELECT (SELECT json_build_object(
          'data', coalesce(json_agg({ENTITY_SUMMARY} ORDER BY page.n), '[]'::json),
          'next_cursor', (SELECT cursor FROM nxt))
        FROM page JOIN entity e ON e.id = page.id WHERE page.n <= {n})::text AS body,
       (SELECT cursor FROM nxt) AS next_cursor
"""
    return sql, sort


async def list_entities(db: Database, *, q: str | None, kind: str | None, after: Cursor | None, limit: int) -> Page:
    """One page of live entities: by name and alias (prefix full-text, best match first), or all by id."""
    p = Params()
    sql, _ = search_sql(p, q=q, kind=kind, after=after, limit=limit)
    row = await db.fetchrow(sql, *p.values)
    assert row is not None
    return Page(row["body"].encode(), row["next_cursor"])


@dataclass(frozen=True)
class EntityDoc(Doc):
    """An entity's JSON; ``merged_into`` is set when it was folded into another."""

    merged_into: int | None = None


async def get_entity(db: Database, entity_id: int) -> EntityDoc | None:
    """One entity with aliases, roles, external ids and claim counts, or None."""
    row = await db.fetchrow(GET_ENTITY, entity_id)
    if row is None:
        return None
    return EntityDoc(row["body"].encode(), 0, merged_into=row["merged_into"])


# --- merge --------------------------------------------------------------------------------------


class MergeRefused(Exception):
    """A merge that cannot happen; nothing was changed. Each API words it in its own terms."""


class EntityNotFound(MergeRefused):
    """No entity has ``entity_id``; ``survivor`` tells whether it was the one to merge into."""

    def __init__(self, entity_id: int, *, survivor: bool) -> None:
        super().__init__(f"no entity with id {entity_id}")
        self.entity_id = entity_id
        self.survivor = survivor


class AlreadyMerged(MergeRefused):
    """The duplicate was merged into another entity than the one asked for."""

    def __init__(self, entity_id: int, merged_into: int) -> None:
        super().__init__(f"entity {entity_id} was already merged into {merged_into}")
        self.entity_id = entity_id
        self.merged_into = merged_into


class MergeIntoSelf(MergeRefused):
    """The entity to merge into is the duplicate itself (or what it was merged into)."""

    def __init__(self, entity_id: int) -> None:
        super().__init__("an entity cannot be merged into itself")
        self.entity_id = entity_id


LOCK_ENTITIES = "SELECT id, merged_into FROM entity WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE"
ENTITY_LOCK_KEYS = """
SELECT array_agg(k) FROM (
  SELECT 'n:' || norm AS k FROM entity_alias WHERE entity_id = ANY($1::bigint[])
  UNION SELECT 'x:' || scheme || ':' || value FROM entity_external_id WHERE entity_id = ANY($1::bigint[])
) keys
"""
# Each statement moves one kind of reference from $1 (the duplicate) to $2 (the survivor).
MOVE_REFERENCES = [
    "INSERT INTO entity_alias (entity_id, alias, norm) SELECT $2, alias, norm FROM entity_alias WHERE entity_id = $1"
    " ON CONFLICT DO NOTHING",
    "DELETE FROM entity_alias WHERE entity_id = $1",
    "UPDATE entity_external_id SET entity_id = $2 WHERE entity_id = $1",
    "INSERT INTO entity_role (entity_id, title, organization_id, start_date, end_date)"
    " SELECT $2, title, organization_id, start_date, end_date FROM entity_role WHERE entity_id = $1"
    " ON CONFLICT DO NOTHING",
    "DELETE FROM entity_role WHERE entity_id = $1",
    "UPDATE entity_role SET organization_id = $2 WHERE organization_id = $1",
    "INSERT INTO claim_speaker (claim_id, entity_id, role, position)"
    " SELECT claim_id, $2, role, position FROM claim_speaker WHERE entity_id = $1 ON CONFLICT DO NOTHING",
    "DELETE FROM claim_speaker WHERE entity_id = $1",
    "INSERT INTO mention (claim_id, entity_id) SELECT claim_id, $2 FROM mention WHERE entity_id = $1"
    " ON CONFLICT DO NOTHING",
    "DELETE FROM mention WHERE entity_id = $1",
    "INSERT INTO source_author (source_id, entity_id, position)"
    " SELECT source_id, $2, position FROM source_author WHERE entity_id = $1 ON CONFLICT DO NOTHING",
    "DELETE FROM source_author WHERE entity_id = $1",
    "UPDATE claim SET location_id = $2, updated_at = now() WHERE location_id = $1",
    "UPDATE entity SET merged_into = $2, updated_at = now() WHERE merged_into = $1",
    "UPDATE entity SET merged_into = $2, updated_at = now() WHERE id = $1",
]
TOUCH_ENTITY = "UPDATE entity SET updated_at = now() WHERE id = $1"
SPOKEN_BY = "SELECT claim_id FROM claim_speaker WHERE entity_id = $1"
MOVE_PUBLISHER = """
UPDATE source SET publisher_id = $2 WHERE publisher_id = $1
RETURNING id, key, url, kind, title, published_at
"""
CLAIM_IDENTITY = """
SELECT c.content, (SELECT array_agg(entity_id) FROM claim_speaker WHERE claim_id = c.id) AS speakers
FROM claim c WHERE c.id = $1
"""
CLAIM_BY_FINGERPRINT = "SELECT id FROM claim WHERE fingerprint = $1 AND id <> $2"
SET_FINGERPRINT = "UPDATE claim SET fingerprint = $2, version = version + 1, updated_at = now() WHERE id = $1"
SET_SOURCE_KEY = """
UPDATE source SET key = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM source WHERE key = $2)
"""
# Folding a claim that the merge revealed as a duplicate ($1) into the one already known ($2).
FOLD_CLAIM = [
    "INSERT INTO appearance (claim_id, source_id, quote, span_start, span_end, cited_source_id)"
    " SELECT $2, source_id, quote, span_start, span_end, cited_source_id FROM appearance WHERE claim_id = $1"
    " ON CONFLICT DO NOTHING",
    "INSERT INTO mention (claim_id, entity_id) SELECT $2, entity_id FROM mention WHERE claim_id = $1"
    " ON CONFLICT DO NOTHING",
    "INSERT INTO claim_topic (claim_id, topic_id) SELECT $2, topic_id FROM claim_topic WHERE claim_id = $1"
    " ON CONFLICT DO NOTHING",
    "UPDATE claim SET first_reported_at = least(first_reported_at,"
    " (SELECT first_reported_at FROM claim WHERE id = $1)), version = version + 1, updated_at = now() WHERE id = $2",
    "UPDATE claim SET deleted_at = now(), version = version + 1 WHERE id = $1 AND deleted_at IS NULL",
    "INSERT INTO claim_deletion (claim_id, reason) VALUES ($1, 'duplicate of claim ' || $2::bigint)"
    " ON CONFLICT DO NOTHING",
]


async def merge_entity(db: Database, duplicate: int, into: int) -> int:
    """Fold ``duplicate`` into ``into`` (or what it was merged into); returns the survivor's id.

    Its aliases, external ids, roles, claims (as speaker), mentions, authorships, publications and
    locations move to the survivor. Claims whose identity (speakers + content) now equals another
    claim's are folded into that claim. Merging again into the same survivor changes nothing.
    """
    async with db.transaction() as tx:
        keys = await tx.fetchval(ENTITY_LOCK_KEYS, [duplicate, into])
        await tx.fetchval(LOCK_KEYS, [MERGE_LOCK, *(keys or [])])  # MERGE_LOCK first: no writer runs meanwhile
        rows = {r["id"]: r["merged_into"] for r in await tx.fetch(LOCK_ENTITIES, [duplicate, into])}
        if duplicate not in rows:
            raise EntityNotFound(duplicate, survivor=False)
        if into not in rows:
            raise EntityNotFound(into, survivor=True)
        survivor = rows[into] or into
        if rows[duplicate] is not None:
            if rows[duplicate] == survivor:
                return survivor
            raise AlreadyMerged(duplicate, rows[duplicate])
        if survivor == duplicate:
            raise MergeIntoSelf(duplicate)
        await _move(tx, duplicate, survivor)
    return survivor


async def _move(tx: Traced, duplicate: int, survivor: int) -> None:
    spoken = [r["claim_id"] for r in await tx.fetch(SPOKEN_BY, duplicate)]
    for sql in MOVE_REFERENCES:
        await tx.execute(sql, *((duplicate, survivor) if "$2" in sql else (duplicate,)))
    await tx.execute(TOUCH_ENTITY, survivor)
    for claim_id in spoken:
        await _reidentify_claim(tx, claim_id)
    for row in await tx.fetch(MOVE_PUBLISHER, duplicate, survivor):
        if row["url"] is None:
            key = source_key(
                url=None,
                kind=row["kind"],
                title=row["title"],
                publisher_id=survivor,
                published_at=row["published_at"],
            )
            await tx.execute(SET_SOURCE_KEY, row["id"], key)


async def _reidentify_claim(tx: Traced, claim_id: int) -> None:
    """Recompute a claim's fingerprint after its speakers changed; fold it into an equal claim."""
    row = await tx.fetchrow(CLAIM_IDENTITY, claim_id)
    assert row is not None
    fingerprint = claim_fingerprint(row["speakers"] or [], row["content"])
    other = await tx.fetchval(CLAIM_BY_FINGERPRINT, fingerprint, claim_id)
    if other is None:
        await tx.execute(SET_FINGERPRINT, claim_id, fingerprint)
        return
    for sql in FOLD_CLAIM:
        await tx.execute(sql, *((claim_id, other) if "$2" in sql else (claim_id,)))
