"""Writing a source document: find what is known, add what is new, in one transaction.

Identity rules (DESIGN.md): an entity is found again by id, external id, or any alias (case- and
accent-insensitive); a source by URL, else by kind, title, publisher and date; a claim by its
speakers and normalised content, so a second outlet printing the same quote adds an appearance.
Writing the same document twice changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from db.database import Database, Traced
from db.normalize import claim_fingerprint, name_norm, source_key
from schema.documents import AppearanceIn, ClaimIn, EntityRef, SourceDocument, SourceRef

log = logging.getLogger("claims.db")

RETRIES = 8


class DocumentError(Exception):
    """The document cannot be written as given; ``field`` is the path of the offending field."""

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


@dataclass
class ClaimOutcome:
    """What writing one claim did."""

    id: int
    created: bool
    appearance_created: bool


@dataclass
class WriteResult:
    """What writing a document did; ``changed`` is false when everything was known already."""

    source_id: int
    source_created: bool
    claims: list[ClaimOutcome] = field(default_factory=list)
    entities_created: int = 0

    @property
    def changed(self) -> bool:
        return (
            self.source_created
            or self.entities_created > 0
            or any(c.created or c.appearance_created for c in self.claims)
        )


LOCK_KEYS = """
SELECT count(pg_advisory_xact_lock(hashtextextended(k, 7)))
FROM (SELECT DISTINCT k FROM unnest($1::text[]) AS k ORDER BY k) AS keys
"""
# A writer queues only on the names it may create: a name that an entity of the wanted kind already
# answers to cannot be created again, and queueing on it (the publisher of every document) made all
# writers wait for one another. Merges take names away from entities, so writers hold MERGE_LOCK
# shared and a merge holds it exclusively; "m:" sorts before "n:" and "x:", so it is taken first.
MERGE_LOCK = "m:merge"
WRITE_LOCKS = """
SELECT count(CASE WHEN k = 'm:merge' THEN pg_advisory_xact_lock_shared(hashtextextended(k, 7))
                  ELSE pg_advisory_xact_lock(hashtextextended(k, 7)) END)
FROM (
  SELECT DISTINCT t.k FROM unnest($1::text[], $2::text[], $3::text[]) AS t (k, norm, kind)
  WHERE t.norm IS NULL OR NOT EXISTS (
    SELECT 1 FROM entity_alias a JOIN entity e ON e.id = a.entity_id
    WHERE a.norm = t.norm AND e.merged_into IS NULL AND (t.kind IS NULL OR e.kind = t.kind OR e.kind = 'other')
  )
  ORDER BY t.k
) AS keys
"""
ENTITY_BY_ID = "SELECT id, merged_into FROM entity WHERE id = $1"
ENTITY_BY_EXTERNAL_ID = """
SELECT coalesce(e.merged_into, e.id) FROM entity_external_id x JOIN entity e ON e.id = x.entity_id
WHERE (x.scheme, x.value) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY e.id LIMIT 1
"""
ENTITY_BY_ALIAS = """
SELECT e.id FROM entity_alias a JOIN entity e ON e.id = a.entity_id
WHERE a.norm = ANY($1::text[]) AND e.merged_into IS NULL
  AND ($2::text IS NULL OR e.kind = $2 OR e.kind = 'other')
ORDER BY (e.name_norm = $3) DESC, (a.norm = $3) DESC, e.id
LIMIT 1
"""
# The common reference (a name and aliases, no id or external id) in one round trip: find it by
# alias as ENTITY_BY_ALIAS does, else create it, and record every name as an alias.
RESOLVE_BY_NAMES = """
WITH found AS (
  SELECT e.id FROM entity_alias a JOIN entity e ON e.id = a.entity_id
  WHERE a.norm = ANY($1::text[]) AND e.merged_into IS NULL
    AND ($2::text IS NULL OR e.kind = $2 OR e.kind = 'other')
  ORDER BY (e.name_norm = $3) DESC, (a.norm = $3) DESC, e.id
  LIMIT 1
), created AS (
  INSERT INTO entity (kind, name, name_norm, description)
  SELECT coalesce($2, 'other'), $4, $3, $5 WHERE NOT EXISTS (SELECT 1 FROM found)
  RETURNING id
), resolved AS (
  SELECT id, false AS created FROM found UNION ALL SELECT id, true FROM created
), aliases AS (
  INSERT INTO entity_alias (entity_id, alias, norm)
  SELECT r.id, t.alias, t.norm FROM resolved r, unnest($6::text[], $1::text[]) AS t (alias, norm)
  ON CONFLICT DO NOTHING
)
SELECT id, created FROM resolved
"""
# RESOLVE_BY_NAMES for every name-only reference of a document at once (`_Writer.resolve_names`):
# references numbered $1, their names $6.. (reference number, alias, norm). Each reference's norms
# are its own (checked before), so a created entity is told apart by its name_norm.
RESOLVE_MANY_BY_NAMES = """
WITH refs AS (
  SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[])
    AS r (i, kind, norm0, name, description)
), names AS (
  SELECT * FROM unnest($6::int[], $7::text[], $8::text[]) AS n (i, alias, norm)
), found AS (
  SELECT DISTINCT ON (r.i) r.i, e.id
  FROM refs r JOIN names n ON n.i = r.i
  JOIN entity_alias a ON a.norm = n.norm JOIN entity e ON e.id = a.entity_id
  WHERE e.merged_into IS NULL AND (r.kind IS NULL OR e.kind = r.kind OR e.kind = 'other')
  ORDER BY r.i, (e.name_norm = r.norm0) DESC, (a.norm = r.norm0) DESC, e.id
), created AS (
  INSERT INTO entity (kind, name, name_norm, description)
  SELECT coalesce(r.kind, 'other'), r.name, r.norm0, r.description
  FROM refs r WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.i = r.i)
  ORDER BY r.i
  RETURNING id, name_norm
), resolved AS (
  SELECT f.i, f.id, false AS created FROM found f
  UNION ALL
  SELECT r.i, c.id, true FROM created c JOIN refs r ON r.norm0 = c.name_norm
), aliases AS (
  INSERT INTO entity_alias (entity_id, alias, norm)
  SELECT r.id, n.alias, n.norm FROM resolved r JOIN names n ON n.i = r.i
  ON CONFLICT DO NOTHING
)
SELECT i, id, created FROM resolved
"""
INSERT_ENTITY = """
INSERT INTO entity (kind, name, name_norm, description) VALUES ($1, $2, $3, $4) RETURNING id
"""
ADD_ALIASES = """
INSERT INTO entity_alias (entity_id, alias, norm)
SELECT $1, alias, norm FROM unnest($2::text[], $3::text[]) AS t (alias, norm)
ON CONFLICT DO NOTHING
"""
ADD_EXTERNAL_IDS = """
INSERT INTO entity_external_id (entity_id, scheme, value)
SELECT $1, scheme, value FROM unnest($2::text[], $3::text[]) AS t (scheme, value)
ON CONFLICT DO NOTHING
"""
ADD_ROLE = """
INSERT INTO entity_role (entity_id, title, start_date, end_date) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
"""
INSERT_SOURCE = """
INSERT INTO source (key, kind, title, url, publisher_id, published_at, language, text)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (key) DO NOTHING
RETURNING id, published_at
"""
SOURCE_BY_KEY = "SELECT id, published_at FROM source WHERE key = $1"
FILL_SOURCE = """
UPDATE source SET text = coalesce(text, $2), language = coalesce(language, $3)
WHERE id = $1 AND ((text IS NULL AND $2::text IS NOT NULL) OR (language IS NULL AND $3::text IS NOT NULL))
"""
ADD_AUTHORS = """
INSERT INTO source_author (source_id, entity_id, position)
SELECT $1, entity_id, pos - 1 FROM unnest($2::bigint[]) WITH ORDINALITY AS t (entity_id, pos)
ON CONFLICT DO NOTHING
"""
ADD_TOPICS = """
INSERT INTO topic (slug, name) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (slug) DO NOTHING
"""
# New claims and their speakers in one round trip (one row per claim, each fingerprint once;
# per-row INSERTs cost PostgreSQL most of an import: each builds the table's constraint and
# generated-column expressions anew); used for one document here and for a batch by db.bulk. The
# speakers' BEFORE INSERT trigger reads the claim's said_key: it sees the rows `added` inserted,
# since a trigger's queries see what the calling statement has done so far. A claim about to
# appear in a source is first reported when that source was published ($8: the earliest such
# date): set now, INSERT_APPEARANCES's update of the new row (a second version of it in every
# index, the full-text one included) finds nothing to move.
INSERT_CLAIMS = """
WITH added AS (
  INSERT INTO claim (fingerprint, content, kind, language, said_at, said_at_precision, location_id,
                     first_reported_at)
  SELECT t.fingerprint, t.content, t.kind, t.language, t.said_at, t.said_at_precision, t.location_id,
         t.first_reported_at
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::bigint[],
              $8::timestamptz[]) WITH ORDINALITY
    AS t (fingerprint, content, kind, language, said_at, said_at_precision, location_id, first_reported_at, ord)
  ORDER BY t.ord
  ON CONFLICT (fingerprint) DO NOTHING
  RETURNING id, fingerprint
), speakers AS (
  INSERT INTO claim_speaker (claim_id, entity_id, role, position)
  SELECT added.id, t.entity_id, t.role, t.position
  FROM added JOIN unnest($9::text[], $10::bigint[], $11::text[], $12::int[])
    AS t (fingerprint, entity_id, role, position) ON t.fingerprint = added.fingerprint
  ON CONFLICT DO NOTHING
)
SELECT id, fingerprint FROM added
"""
CLAIMS_BY_FINGERPRINT = "SELECT id, fingerprint FROM claim WHERE fingerprint = ANY($1::text[])"
ADD_MENTIONS = """
INSERT INTO mention (claim_id, entity_id) SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING
"""
ADD_CLAIM_TOPICS = """
INSERT INTO claim_topic (claim_id, topic_id)
SELECT t.claim_id, topic.id FROM unnest($1::bigint[], $2::text[]) AS t (claim_id, slug)
JOIN topic ON topic.slug = t.slug
ON CONFLICT DO NOTHING
"""
# New appearances move their claims' first_reported_at back to the source's date, in the same
# round trip (a bulk import spends most of its time waiting on round trips).
INSERT_APPEARANCES = """
WITH added AS (
  INSERT INTO appearance (claim_id, source_id, quote, span_start, span_end, cited_source_id)
  SELECT t.claim_id, $1, t.quote, t.span_start, t.span_end, t.cited_source_id
  FROM unnest($2::bigint[], $3::text[], $4::int[], $5::int[], $6::bigint[]) WITH ORDINALITY
    AS t (claim_id, quote, span_start, span_end, cited_source_id, ord)
  ORDER BY t.ord
  ON CONFLICT (claim_id, source_id) DO NOTHING
  RETURNING claim_id
), reported AS (
  UPDATE claim SET first_reported_at = s.published_at
  FROM source s
  WHERE claim.id IN (SELECT claim_id FROM added) AND s.id = $1 AND s.published_at IS NOT NULL
    AND (claim.first_reported_at IS NULL OR s.published_at < claim.first_reported_at)
)
SELECT claim_id FROM added
"""
ADD_RELATION = """
INSERT INTO claim_relation (claim_id, related_claim_id, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
"""
CLAIM_EXISTS = "SELECT EXISTS (SELECT 1 FROM claim WHERE id = $1 AND deleted_at IS NULL)"


def _entity_refs(doc: SourceDocument) -> list[EntityRef]:
    refs: list[EntityRef] = []

    def of_source(src: SourceRef | None) -> None:
        if src is not None:
            refs.extend([src.publisher] if src.publisher else [])
            refs.extend(src.authors)

    of_source(doc.source)
    for claim in doc.claims:
        refs.extend(s.entity for s in claim.speakers)
        refs.extend(claim.mentions)
        refs.extend([claim.location] if claim.location else [])
        of_source(claim.appearance.cited_source if claim.appearance else None)
    return refs


def _refs_in_order(doc: SourceDocument) -> list[EntityRef]:
    """The document's entity references in the order the writer resolves them one at a time."""
    refs: list[EntityRef] = []

    def of_source(src: SourceRef) -> None:
        refs.extend([src.publisher] if src.publisher else [])
        refs.extend(src.authors)

    of_source(doc.source)
    for claim in doc.claims:
        refs.extend(s.entity for s in claim.speakers)
        refs.extend([claim.location] if claim.location else [])
        refs.extend(claim.mentions)
        if claim.appearance is not None and claim.appearance.cited_source is not None:
            of_source(claim.appearance.cited_source)
    return refs


def _lock_keys(*docs: SourceDocument) -> tuple[list[str], list[str | None], list[str | None]]:
    """WRITE_LOCKS's keys for ``docs`` together: the merge lock, external ids, and names with the
    kind they are looked up as."""
    rows: set[tuple[str, str | None, str | None]] = {(MERGE_LOCK, None, None)}
    for doc in docs:
        for ref in _entity_refs(doc):
            rows.update((f"x:{scheme}:{value}", None, None) for scheme, value in ref.external_ids.items())
            for name in [ref.name, *ref.aliases]:
                if name and (norm := name_norm(name)):
                    rows.add(("n:" + norm, norm, ref.kind))
    keys, norms, kinds = zip(*rows, strict=True)
    return list(keys), list(norms), list(kinds)


class _Writer:
    """One document's write, with a per-document cache of resolved entities."""

    def __init__(self, tx: Traced) -> None:
        self.tx = tx
        self.entities: dict[str, int] = {}
        self.entities_created = 0
        self.published: dict[int, datetime | None] = {}  # sources' published_at, by id

    async def entity(self, ref: EntityRef, path: str) -> int:
        cache_key = ref.model_dump_json()
        if cache_key not in self.entities:
            self.entities[cache_key] = await self._resolve(ref, path)
        return self.entities[cache_key]

    async def resolve_names(self, refs: list[EntityRef]) -> None:
        """Resolve a document's references in one round trip when every one is a plain name (no id,
        external id or role) and no two share a normalised name; otherwise leave them to `entity`,
        one at a time, since an entity one reference creates may be what the next one finds.

        The outcome is the one-at-a-time outcome: the same look-up (RESOLVE_BY_NAMES), entities
        created in the order the document first names them, every name recorded as an alias.
        """
        todo: dict[str, tuple[EntityRef, list[str], list[str]]] = {}
        seen: set[str] = set()
        for ref in refs:
            key = ref.model_dump_json()
            if key in todo or key in self.entities:
                continue
            if ref.id is not None or ref.external_ids or ref.roles or ref.name is None or not name_norm(ref.name):
                return
            names = [n for n in [ref.name, *ref.aliases] if n and name_norm(n)]
            norms = [name_norm(n) for n in names]
            if seen.intersection(norms):
                return
            seen.update(norms)
            todo[key] = (ref, names, norms)
        if not todo:
            return
        items = list(todo.items())
        named = [
            (i, name, norm)
            for i, (_, (_, names, norms)) in enumerate(items)
            for name, norm in zip(names, norms, strict=True)
        ]
        rows = await self.tx.fetch(
            RESOLVE_MANY_BY_NAMES,
            list(range(len(items))),
            [ref.kind for _, (ref, _, _) in items],
            [norms[0] for _, (_, _, norms) in items],
            [ref.name for _, (ref, _, _) in items],
            [ref.description for _, (ref, _, _) in items],
            *_columns(named, 3),
        )
        for row in rows:
            self.entities[items[row["i"]][0]] = int(row["id"])
            self.entities_created += int(row["created"])

    async def _resolve(self, ref: EntityRef, path: str) -> int:
        names = [n for n in [ref.name, *ref.aliases] if n and name_norm(n)]
        if ref.id is None and not ref.external_ids and ref.name is not None and name_norm(ref.name):
            norms = [name_norm(n) for n in names]
            row = await self.tx.fetchrow(RESOLVE_BY_NAMES, norms, ref.kind, norms[0], ref.name, ref.description, names)
            assert row is not None
            self.entities_created += int(row["created"])
            for role in ref.roles:
                await self.tx.execute(ADD_ROLE, row["id"], role.title, role.start, role.end)
            return int(row["id"])
        found = await self._find(ref, path)
        if found is None:
            if ref.name is None or not name_norm(ref.name):
                raise DocumentError(path, "no entity has these external ids; give a name to create one")
            found = await self.tx.fetchval(
                INSERT_ENTITY, ref.kind or "other", ref.name, name_norm(ref.name), ref.description
            )
            self.entities_created += 1
        if names:
            await self.tx.execute(ADD_ALIASES, found, names, [name_norm(n) for n in names])
        if ref.external_ids:
            await self.tx.execute(ADD_EXTERNAL_IDS, found, list(ref.external_ids), list(ref.external_ids.values()))
        for role in ref.roles:
            await self.tx.execute(ADD_ROLE, found, role.title, role.start, role.end)
        return int(found)

    async def _find(self, ref: EntityRef, path: str) -> int | None:
        if ref.id is not None:
            row = await self.tx.fetchrow(ENTITY_BY_ID, ref.id)
            if row is None:
                raise DocumentError(f"{path}.id", f"no entity with id {ref.id}", "not_found")
            return int(row["merged_into"] or row["id"])
        if ref.external_ids:
            hit = await self.tx.fetchval(ENTITY_BY_EXTERNAL_ID, list(ref.external_ids), list(ref.external_ids.values()))
            if hit is not None:
                return int(hit)
        norms = [name_norm(n) for n in [ref.name, *ref.aliases] if n and name_norm(n)]
        if not norms:
            return None
        hit = await self.tx.fetchval(ENTITY_BY_ALIAS, norms, ref.kind, norms[0])
        return None if hit is None else int(hit)

    async def source(self, src: SourceRef, path: str, text: str | None = None) -> tuple[int, bool]:
        publisher = await self.entity(src.publisher, f"{path}.publisher") if src.publisher else None
        published_at = src.published_at if isinstance(src.published_at, datetime) else None
        key = source_key(url=src.url, kind=src.kind, title=src.title, publisher_id=publisher, published_at=published_at)
        url = key.removeprefix("url:") if key.startswith("url:") else None
        added = await self.tx.fetchrow(
            INSERT_SOURCE, key, src.kind, src.title, url, publisher, published_at, src.language, text
        )
        row = added if added is not None else await self.tx.fetchrow(SOURCE_BY_KEY, key)
        assert row is not None
        source_id = int(row["id"])
        self.published[source_id] = row["published_at"]
        if added is None and (text is not None or src.language is not None):
            await self.tx.execute(FILL_SOURCE, source_id, text, src.language)
        if src.authors:
            authors = [await self.entity(a, f"{path}.authors[{i}]") for i, a in enumerate(src.authors)]
            await self.tx.execute(ADD_AUTHORS, source_id, authors)
        return source_id, added is not None

    async def prepare(self, claim: ClaimIn, path: str, source_id: int) -> _Pending:
        """Resolve one claim's entities and cited source, and check it, before anything is inserted."""
        speakers = [await self.entity(s.entity, f"{path}.speakers[{i}].entity") for i, s in enumerate(claim.speakers)]
        if len(set(speakers)) != len(speakers):
            raise DocumentError(f"{path}.speakers", "the same entity is listed twice as a speaker")
        location = await self.entity(claim.location, f"{path}.location") if claim.location else None
        mentions = [await self.entity(m, f"{path}.mentions[{i}]") for i, m in enumerate(claim.mentions)]
        cited = None
        if claim.appearance is not None and claim.appearance.cited_source is not None:
            cited, _ = await self.source(claim.appearance.cited_source, f"{path}.appearance.cited_source")
            if cited == source_id:
                raise DocumentError(f"{path}.appearance.cited_source", "a source cannot cite itself for its own claim")
        return _Pending(claim, speakers, location, mentions, cited, claim_fingerprint(speakers, claim.content))

    async def claims(self, pending: list[_Pending], source_id: int) -> list[ClaimOutcome]:
        """Insert the document's claims, their speakers, mentions, topics and appearances: a round trip
        for each kind of row, whatever the number of claims. A claim given twice (same speakers and
        content) is one claim; only its first mention creates it, and its first appearance."""
        firsts: dict[str, _Pending] = {}
        for p in pending:
            firsts.setdefault(p.fingerprint, p)
        first = list(firsts.values())
        speakers = [
            (p.fingerprint, entity_id, speaker.role, position)
            for p in first
            for position, (entity_id, speaker) in enumerate(zip(p.speakers, p.claim.speakers, strict=True))
        ]
        rows = await self.tx.fetch(
            INSERT_CLAIMS,
            [p.fingerprint for p in first],
            [p.claim.content for p in first],
            [p.claim.kind for p in first],
            [p.claim.language for p in first],
            [p.claim.said_at for p in first],
            [p.claim.said_at_precision for p in first],
            [p.location for p in first],
            [self.published[source_id] if p.claim.appearance is not None else None for p in first],
            *_columns(speakers, 4),
        )
        ids = {r["fingerprint"]: int(r["id"]) for r in rows}
        created = set(ids)
        if len(ids) < len(first):
            for r in await self.tx.fetch(
                CLAIMS_BY_FINGERPRINT, [p.fingerprint for p in first if p.fingerprint not in ids]
            ):
                ids[r["fingerprint"]] = int(r["id"])
        mentions = [(ids[p.fingerprint], m) for p in pending for m in p.mentions]
        if mentions:
            await self.tx.execute(ADD_MENTIONS, *_columns(mentions, 2))
        topics = [(ids[p.fingerprint], slug) for p in pending for slug in p.claim.topics]
        if topics:
            await self.tx.execute(ADD_CLAIM_TOPICS, *_columns(topics, 2))
        appearing: dict[int, tuple[_Pending, AppearanceIn]] = {}
        for p in pending:
            if p.claim.appearance is not None:
                appearing.setdefault(ids[p.fingerprint], (p, p.claim.appearance))
        added: set[int] = set()
        if appearing:
            rows = await self.tx.fetch(
                INSERT_APPEARANCES,
                source_id,
                list(appearing),
                [a.quote for _, a in appearing.values()],
                [a.span[0] if a.span else None for _, a in appearing.values()],
                [a.span[1] if a.span else None for _, a in appearing.values()],
                [p.cited for p, _ in appearing.values()],
            )
            added = {int(r["claim_id"]) for r in rows}
        out = []
        for p in pending:
            claim_id = ids[p.fingerprint]
            first_appearance = claim_id in added and appearing[claim_id][0] is p
            out.append(ClaimOutcome(claim_id, p.fingerprint in created, first_appearance))
            created.discard(p.fingerprint)
        return out


@dataclass
class _Pending:
    """A claim of the document with its references resolved, waiting to be inserted."""

    claim: ClaimIn
    speakers: list[int]
    location: int | None
    mentions: list[int]
    cited: int | None
    fingerprint: str


def topic_names(doc: SourceDocument) -> dict[str, str]:
    """The topics ``doc`` creates when they are new, by slug: its own names, else one made of the slug."""
    names = {t.slug: t.name for t in doc.topics}
    for claim in doc.claims:
        for slug in claim.topics:
            names.setdefault(slug, slug.replace("-", " ").capitalize())
    return names


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as ``width`` column lists for ``unnest($1, $2, …)``: ``[(1, "a"), (2, "b")]`` → ``[[1, 2], ["a", "b"]]``."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


async def _write(tx: Traced, doc: SourceDocument) -> WriteResult:
    await tx.fetchval(WRITE_LOCKS, *_lock_keys(doc))
    writer = _Writer(tx)
    await writer.resolve_names(_refs_in_order(doc))
    source_id, source_created = await writer.source(doc.source, "source", doc.source.text)
    slugs = topic_names(doc)
    if slugs:
        await tx.execute(ADD_TOPICS, list(slugs), list(slugs.values()))
    result = WriteResult(source_id, source_created)
    pending = [await writer.prepare(claim, f"claims[{i}]", source_id) for i, claim in enumerate(doc.claims)]
    result.claims = await writer.claims(pending, source_id)
    for i, claim in enumerate(doc.claims):
        for j, rel in enumerate(claim.relations):
            target = result.claims[rel.claim_index].id if rel.claim_index is not None else rel.claim_id
            if target == result.claims[i].id:
                raise DocumentError(f"claims[{i}].relations[{j}]", "a claim cannot relate to itself")
            if not await tx.fetchval(CLAIM_EXISTS, target):
                raise DocumentError(f"claims[{i}].relations[{j}].claim_id", f"no claim with id {target}", "not_found")
            await tx.execute(ADD_RELATION, result.claims[i].id, target, rel.kind)
    result.entities_created = writer.entities_created
    return result


_RETRYABLE = (asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError)
_INVALID = (
    asyncpg.exceptions.CheckViolationError,
    asyncpg.exceptions.NotNullViolationError,
    asyncpg.exceptions.ForeignKeyViolationError,
    asyncpg.exceptions.UniqueViolationError,
    asyncpg.exceptions.StringDataRightTruncationError,
    asyncpg.exceptions.DatetimeFieldOverflowError,
    asyncpg.exceptions.NumericValueOutOfRangeError,
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
    # Any other data exception, and values asyncpg cannot encode (a span past int4): the client's.
    asyncpg.exceptions.DataError,
)


async def write_source_document(db: Database, doc: SourceDocument) -> WriteResult:
    """Write ``doc`` in one transaction; the same document twice changes nothing the second time.

    Raises `DocumentError` (nothing written) when a reference does not resolve or the database
    refuses a value. Serialisation failures and deadlocks between concurrent writers are retried.
    """
    for attempt in range(RETRIES):
        try:
            async with db.transaction() as tx:
                return await _write(tx, doc)
        except _RETRYABLE:
            if attempt == RETRIES - 1:
                raise
            await asyncio.sleep(0.01 * 2**attempt)
        except _INVALID as exc:
            raise DocumentError(_constraint_field(exc), _constraint_message(exc), "constraint") from exc
    raise AssertionError("unreachable")


def _constraint_field(exc: Any) -> str:
    table = getattr(exc, "table_name", None) or "document"
    column = getattr(exc, "column_name", None)
    return f"{table}.{column}" if column else str(table)


def _constraint_message(exc: Any) -> str:
    constraint = getattr(exc, "constraint_name", None)
    return f"rejected by the database ({constraint})" if constraint else "rejected by the database"


GROWING_TABLES = "entity, entity_alias, entity_external_id, source, claim, appearance"


class Statistics:
    """Refreshes the planner's statistics while a bulk write grows the tables it looks rows up in.

    A load into a new or small database grows ``entity``, ``entity_alias``, ``source`` and ``claim``
    from a few rows to many while each connection keeps the plans it made when they were tiny:
    PostgreSQL then estimates one row and reads ``entity`` in full for every name look-up, so the
    look-ups of one document grow with the table (measured at a few hundred entities: 1.2 ms for
    the name locks, 0.4 ms per name, against a few µs with current statistics) until autovacuum
    gets round to an ``ANALYZE``, a minute or more later. `written` runs ``ANALYZE`` on those
    tables after 100, 500, 2,500 … documents (×5 each time); it invalidates the cached plans.
    """

    FIRST = 100
    FACTOR = 5

    def __init__(self, db: Database) -> None:
        self.db = db
        self.count = 0
        self.next = self.FIRST

    async def written(self, documents: int = 1) -> None:
        """Count ``documents`` more; refresh the statistics when a threshold is passed."""
        self.count += documents
        if self.count < self.next:
            return
        while self.next <= self.count:
            self.next *= self.FACTOR
        try:
            await self.db.execute(f"ANALYZE {GROWING_TABLES}")
        except asyncpg.PostgresError as exc:  # not the tables' owner: autovacuum will get there
            log.warning("could not refresh planner statistics", extra={"error": type(exc).__name__})
