"""Claims for REST: JSON built by PostgreSQL in one statement per read, and the claim writes.

Every read returns the response body as bytes (`ClaimPublic` / `ClaimPage` shaped, documented in
schema/claims.py); Python never re-encodes it. Each to-many part (speakers, appearances, …) is
aggregated once for all claims of a page (``WHERE claim_id IN (page) GROUP BY claim_id``). The
GraphQL compiler uses correlated subqueries instead, which are quicker for its feed; these REST
statements have not been compared in that shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db.database import Database, Traced
from db.filters import ClaimFilter, Cursor, Params, Sort, cursor_sql, page_sql
from db.normalize import claim_fingerprint
from schema.documents import at_precision

# --- JSON fragments -----------------------------------------------------------------------------

ENTITY_BRIEF = "json_build_object('id', {e}.id, 'name', {e}.name, 'kind', {e}.kind)"
SOURCE_BRIEF = (
    "json_build_object('id', {s}.id, 'kind', {s}.kind, 'title', {s}.title, 'url', {s}.url, "
    "'publisher', CASE WHEN {p}.id IS NULL THEN NULL ELSE "
    + ENTITY_BRIEF.format(e="{p}")
    + " END, 'published_at', {s}.published_at)"
)


def parts_sql(ids: str) -> str:
    """CTEs aggregating each to-many part of the claims whose ids ``ids`` (a SELECT) yields."""
    return f"""
spk AS (
  SELECT cs.claim_id, json_agg(json_build_object('id', e.id, 'name', e.name, 'kind', e.kind,
           'role', cs.role, 'position', cs.position) ORDER BY cs.position, cs.entity_id) AS items
  FROM claim_speaker cs JOIN entity e ON e.id = cs.entity_id
  WHERE cs.claim_id IN ({ids}) GROUP BY cs.claim_id
),
men AS (
  SELECT m.claim_id, json_agg({ENTITY_BRIEF.format(e="e")} ORDER BY m.entity_id) AS items
  FROM mention m JOIN entity e ON e.id = m.entity_id
  WHERE m.claim_id IN ({ids}) GROUP BY m.claim_id
),
top AS (
  SELECT ct.claim_id, json_agg(json_build_object('slug', t.slug, 'name', t.name)
           ORDER BY t.slug COLLATE "C") AS items
  FROM claim_topic ct JOIN topic t ON t.id = ct.topic_id
  WHERE ct.claim_id IN ({ids}) GROUP BY ct.claim_id
),
app AS (
  SELECT a.claim_id, json_agg(json_build_object(
           'source', {SOURCE_BRIEF.format(s="s", p="sp")},
           'quote', a.quote,
           'span', CASE WHEN a.span_start IS NULL THEN NULL ELSE json_build_array(a.span_start, a.span_end) END,
           'cited_source', CASE WHEN cs.id IS NULL THEN NULL ELSE {SOURCE_BRIEF.format(s="cs", p="cp")} END)
         ORDER BY s.published_at NULLS LAST, a.id) AS items
  FROM appearance a
  JOIN source s ON s.id = a.source_id LEFT JOIN entity sp ON sp.id = s.publisher_id
  LEFT JOIN source cs ON cs.id = a.cited_source_id LEFT JOIN entity cp ON cp.id = cs.publisher_id
  WHERE a.claim_id IN ({ids}) GROUP BY a.claim_id
),
rel AS (
  SELECT r.claim_id, json_agg(json_build_object('kind', r.kind, 'id', rc.id, 'content', rc.content)
           ORDER BY r.kind, r.related_claim_id) AS items
  FROM claim_relation r JOIN claim rc ON rc.id = r.related_claim_id AND rc.deleted_at IS NULL
  WHERE r.claim_id IN ({ids}) GROUP BY r.claim_id
)"""


CLAIM_JSON = f"""json_build_object(
  'id', c.id, 'content', c.content, 'kind', c.kind, 'language', c.language,
  'said_at', c.said_at, 'said_at_precision', c.said_at_precision, 'first_reported_at', c.first_reported_at,
  'location', CASE WHEN loc.id IS NULL THEN NULL ELSE {ENTITY_BRIEF.format(e="loc")} END,
  'speakers', coalesce(spk.items, '[]'::json), 'topics', coalesce(top.items, '[]'::json),
  'mentions', coalesce(men.items, '[]'::json), 'appearances', coalesce(app.items, '[]'::json),
  'related', coalesce(rel.items, '[]'::json), 'review_state', c.review_state,
  'extraction', CASE WHEN c.extractor IS NULL THEN NULL ELSE json_build_object(
    'extractor', c.extractor, 'version', c.extractor_version, 'confidence', c.confidence) END,
  'version', c.version, 'created_at', c.created_at, 'updated_at', c.updated_at)"""

CLAIM_JOINS = """
LEFT JOIN entity loc ON loc.id = c.location_id
LEFT JOIN spk ON spk.claim_id = c.id LEFT JOIN men ON men.claim_id = c.id
LEFT JOIN top ON top.claim_id = c.id LEFT JOIN app ON app.claim_id = c.id
LEFT JOIN rel ON rel.claim_id = c.id"""

# One claim, deleted or not: the caller answers 410 for deleted ones.
GET_CLAIM = f"""
WITH {parts_sql("$1::bigint")}
SELECT c.version, c.deleted_at IS NOT NULL AS deleted, {CLAIM_JSON}::text AS body
FROM claim c {CLAIM_JOINS}
WHERE c.id = $1
"""

# schema.org `Claim` (https://schema.org/Claim), as fact-checkers publish them. `dateCreated` is an
# ISO 8601 date at the claim's precision (2025, 2025-11, 2025-11-26, or a date-time), as schema.org's
# Date and DateTime allow: a claim said "in November" is not shown as said at midnight on the 1st.
CLAIM_LD = """json_build_object(
  '@context', 'https://schema.org', '@type', 'Claim', '@id', $2::text || '/v1/claims/' || c.id,
  'identifier', c.id, 'text', c.content, 'inLanguage', c.language,
  'dateCreated', CASE c.said_at_precision
    WHEN 'year' THEN to_char(c.said_at AT TIME ZONE 'UTC', 'YYYY')
    WHEN 'month' THEN to_char(c.said_at AT TIME ZONE 'UTC', 'YYYY-MM')
    WHEN 'day' THEN to_char(c.said_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
    ELSE to_json(c.said_at) #>> '{}' END,
  'datePublished', c.first_reported_at,
  'author', coalesce((
    SELECT json_agg(json_build_object('@type', CASE e.kind WHEN 'person' THEN 'Person' ELSE 'Organization' END,
                                      'name', e.name, 'identifier', e.id) ORDER BY cs.position, cs.entity_id)
    FROM claim_speaker cs JOIN entity e ON e.id = cs.entity_id WHERE cs.claim_id = c.id), '[]'::json),
  'about', coalesce((
    SELECT json_agg(json_build_object('@type', 'Thing', 'name', e.name, 'identifier', e.id) ORDER BY m.entity_id)
    FROM mention m JOIN entity e ON e.id = m.entity_id WHERE m.claim_id = c.id), '[]'::json),
  'appearance', coalesce((
    SELECT json_agg(json_build_object(
             '@type', 'NewsArticle', 'headline', s.title, 'url', s.url, 'datePublished', s.published_at,
             'publisher', CASE WHEN p.id IS NULL THEN NULL ELSE
               json_build_object('@type', 'Organization', 'name', p.name, 'identifier', p.id) END,
             'text', a.quote) ORDER BY s.published_at NULLS LAST, a.id)
    FROM appearance a JOIN source s ON s.id = a.source_id LEFT JOIN entity p ON p.id = s.publisher_id
    WHERE a.claim_id = c.id), '[]'::json))"""

GET_CLAIM_LD = f"""
SELECT c.version, c.deleted_at IS NOT NULL AS deleted, {CLAIM_LD}::text AS body FROM claim c WHERE c.id = $1
"""


def list_sql(page: str, p: Params, *, limit: int, sort: str, owner: str | None) -> str:
    """Wrap a ``page_sql`` statement (asked for ``limit + 1`` rows) into the page's JSON.

    Returns ``(owner, body, next_cursor)``; ``owner`` is the scope's own look-up (NULL when the
    scoping entity, topic or source does not exist) or 0 without a scope.
    """
    n = p.add(limit, "::int")
    return f"""
WITH page AS MATERIALIZED (SELECT q.id, q.sort_key, row_number() OVER () AS n FROM ({page}) q),
nxt AS (SELECT {cursor_sql(sort, "l.sort_key", "l.id::text")} AS cursor FROM page l
        WHERE l.n = {n} AND EXISTS (SELECT 1 FROM page WHERE n > {n})),
{parts_sql("SELECT id FROM page")}
SELECT {owner or "0"} AS owner,
  (SELECT json_build_object(
     'data', coalesce(json_agg({CLAIM_JSON} ORDER BY page.n), '[]'::json),
     'next_cursor', (SELECT cursor FROM nxt))
   FROM page JOIN claim c ON c.id = page.id {CLAIM_JOINS}
   WHERE page.n <= {n})::text AS body,
  (SELECT cursor FROM nxt) AS next_cursor
"""


# scope kind → (the scope's key expression for page_sql, the owner look-up)
SCOPE_SQL = {
    "speaker": ("{v}", "(SELECT coalesce(merged_into, 0) FROM entity WHERE id = {v})"),
    "mention": ("{v}", "(SELECT coalesce(merged_into, 0) FROM entity WHERE id = {v})"),
    "source": ("{v}", "(SELECT 0 FROM source WHERE id = {v})"),
    "topic": ("(SELECT id FROM topic WHERE slug = {v})", "(SELECT 0 FROM topic WHERE slug = {v})"),
}


@dataclass(frozen=True)
class Page:
    """A page's JSON body and its next cursor; ``owner`` as in `list_sql` (None: no such scope)."""

    body: bytes
    next_cursor: str | None
    owner: int | None = 0


@dataclass(frozen=True)
class Doc:
    """One resource's JSON body with what the handler needs for headers and status."""

    body: bytes
    version: int
    deleted: bool = False


async def list_claims(
    db: Database,
    f: ClaimFilter,
    *,
    sort: Sort = "-said_at",
    after: Cursor | None = None,
    limit: int = 20,
    scope: tuple[str, int | str] | None = None,
) -> Page:
    """One keyset page of claims as JSON, in one statement; ``scope`` = (speaker|mention|source|topic, key)."""
    p = Params()
    bound = owner = None
    if scope is not None:
        key_sql, owner_sql = SCOPE_SQL[scope[0]]
        v = p.add(scope[1], "::text" if scope[0] == "topic" else "::bigint")
        bound, owner = (scope[0], key_sql.format(v=v)), owner_sql.format(v=v)
    page = page_sql(f, p, sort=sort, after=after, limit=limit + 1, scope=bound)
    row = await db.fetchrow(list_sql(page, p, limit=limit, sort=sort, owner=owner), *p.values)
    assert row is not None
    return Page(row["body"].encode(), row["next_cursor"], row["owner"])


async def get_claim(db: Database, claim_id: int, *, linked_data_base: str | None = None) -> Doc | None:
    """One claim's JSON (or schema.org JSON-LD when ``linked_data_base`` is given), or None."""
    if linked_data_base is None:
        row = await db.fetchrow(GET_CLAIM, claim_id)
    else:
        row = await db.fetchrow(GET_CLAIM_LD, claim_id, linked_data_base)
    return claim_doc(row)


def claim_doc(row: asyncpg.Record | None) -> Doc | None:
    """The `Doc` of a `GET_CLAIM` (or `GET_CLAIM_LD`) row; None for no row."""
    if row is None:
        return None
    return Doc(row["body"].encode(), row["version"], row["deleted"])


# --- writes -------------------------------------------------------------------------------------


class ClaimConflict(Exception):
    """The change would make this claim identical to another one (same speakers and content)."""

    def __init__(self, other_id: int) -> None:
        super().__init__(f"claim {other_id} already has these speakers and this content")
        self.other_id = other_id


class ClaimInvalid(Exception):
    """The change contradicts the claim's other values (``field`` names the offending member)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


LOCK_CLAIM = "SELECT version, deleted_at IS NOT NULL AS deleted, said_at FROM claim WHERE id = $1 FOR UPDATE"
IS_EXTRACTED = "SELECT extractor IS NOT NULL FROM claim WHERE id = $1"
SPEAKER_IDS = "SELECT array_agg(entity_id ORDER BY entity_id) FROM claim_speaker WHERE claim_id = $1"
CLAIM_BY_FINGERPRINT = "SELECT id FROM claim WHERE fingerprint = $1 AND id <> $2"
UPDATE_CLAIM = """
UPDATE claim SET
  content = CASE WHEN $2 THEN $3 ELSE content END,
  fingerprint = CASE WHEN $2 THEN $4 ELSE fingerprint END,
  kind = coalesce($5, kind),
  language = CASE WHEN $6 THEN $7 ELSE language END,
  said_at = CASE WHEN $8 THEN $9 ELSE said_at END,
  said_at_precision = coalesce($10, said_at_precision),
  review_state = CASE WHEN extractor IS NULL THEN review_state
                      WHEN $11::text IS NOT NULL THEN $11::text
                      WHEN review_state = 'unreviewed' AND $12 THEN 'edited'
                      ELSE review_state END,
  version = version + 1, updated_at = now()
WHERE id = $1
"""
ADD_TOPICS = """
INSERT INTO topic (slug, name)
SELECT slug, initcap(replace(slug, '-', ' ')) FROM unnest($1::text[]) AS slug ON CONFLICT (slug) DO NOTHING
"""
CLEAR_TOPICS = """
DELETE FROM claim_topic WHERE claim_id = $1 AND topic_id NOT IN (SELECT id FROM topic WHERE slug = ANY($2::text[]))
"""
SET_TOPICS = """
INSERT INTO claim_topic (claim_id, topic_id) SELECT $1, id FROM topic WHERE slug = ANY($2::text[])
ON CONFLICT DO NOTHING
"""
DELETE_CLAIM = "UPDATE claim SET deleted_at = now(), version = version + 1 WHERE id = $1 AND deleted_at IS NULL"
RECORD_DELETION = """
INSERT INTO claim_deletion (claim_id, api_key_id, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
"""


async def lock_claim(tx: Traced, claim_id: int) -> asyncpg.Record | None:
    """Lock a claim row for an update; None when there is no such claim."""
    return await tx.fetchrow(LOCK_CLAIM, claim_id)


async def current_body(tx: Traced, claim_id: int) -> bytes:
    """The claim's JSON as a reader sees it now (for If-Match against its ETag)."""
    row = await tx.fetchrow(GET_CLAIM, claim_id)
    assert row is not None
    return bytes(row["body"].encode())


async def update_claim(tx: Traced, claim_id: int, changes: dict[str, Any], said_at_now: datetime | None) -> None:
    """Apply a validated merge patch to a locked, live claim; bumps its version.

    Raises `ClaimConflict` when new content collides with another claim by the same speakers.
    """
    precision = changes.get("said_at_precision")
    review = changes.get("review_state")
    if review is not None and not await tx.fetchval(IS_EXTRACTED, claim_id):
        raise ClaimInvalid("review_state", "only extracted claims are reviewed; this one was written by hand")
    said_at = changes.get("said_at", said_at_now)
    if precision is not None and (said_at is None) != (precision == "unknown"):
        raise ClaimInvalid("said_at_precision", "a precision needs a said_at (and 'unknown' needs none)")
    if precision is not None and said_at is not None:
        said_at = at_precision(said_at, precision)  # a coarser precision cuts the stored moment too
    fingerprint = None
    if "content" in changes:
        speakers = await tx.fetchval(SPEAKER_IDS, claim_id) or []
        fingerprint = claim_fingerprint(speakers, changes["content"])
        other = await tx.fetchval(CLAIM_BY_FINGERPRINT, fingerprint, claim_id)
        if other is not None:
            raise ClaimConflict(int(other))
    await tx.execute(
        UPDATE_CLAIM,
        claim_id,
        "content" in changes,
        changes.get("content"),
        fingerprint,
        changes.get("kind"),
        "language" in changes,
        changes.get("language"),
        "said_at" in changes or said_at != said_at_now,
        said_at,
        precision,
        review,
        bool(set(changes) - {"review_state"}),
    )
    if "topics" in changes:
        slugs = list(dict.fromkeys(changes["topics"] or []))
        await tx.execute(ADD_TOPICS, slugs)
        await tx.execute(CLEAR_TOPICS, claim_id, slugs)
        await tx.execute(SET_TOPICS, claim_id, slugs)


async def delete_claim(tx: Traced, claim_id: int, key_id: int | None, reason: str | None) -> bool:
    """Mark a live claim deleted and record who did it and why; False if it already was."""
    done = await tx.execute(DELETE_CLAIM, claim_id)
    if done.endswith(" 0"):
        return False
    await tx.execute(RECORD_DELETION, claim_id, key_id, reason)
    return True
