"""Writing a source document: find what is known, add what is new, in one transaction.

Identity rules (DESIGN.md): an entity is found again by id, external id, or any alias (case- and
accent-insensitive: `db.writes.Entities`); a source by URL, else by kind, title, publisher and date;
a claim by its speakers and normalised content, so a second outlet printing the same quote adds an
appearance. Writing the same document twice changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db import writes
from db.database import Database, Traced
from db.normalize import claim_fingerprint, source_key
from db.writes import (
    ClaimDeleted,
    ClaimOutcome,
    DocumentError,
    RefKey,
    WriteResult,
    columns,
    ref_key,
    topic_names,
)
from schema.documents import AppearanceIn, ClaimIn, EntityRef, SourceDocument, SourceRef

__all__ = ["ClaimDeleted", "ClaimOutcome", "DocumentError", "Statistics", "WriteResult", "write_source_document"]

log = logging.getLogger("claims.db")

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


class _Writer:
    """One document's write: its entities resolved (`Entities`), then its source, claims and links."""

    def __init__(self, tx: Traced, entities: dict[RefKey, int]) -> None:
        self.tx = tx
        self.entities = entities
        self.published: dict[int, datetime | None] = {}  # sources' published_at, by id
        self.paths: dict[str, str] = {}  # each claim's first place in the document, by fingerprint

    def entity(self, ref: EntityRef) -> int:
        return self.entities[ref_key(ref)]

    async def source(self, src: SourceRef, text: str | None = None) -> tuple[int, bool]:
        publisher = self.entity(src.publisher) if src.publisher else None
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
            authors = [self.entity(a) for a in src.authors]
            await self.tx.execute(ADD_AUTHORS, source_id, authors)
        return source_id, added is not None

    async def prepare(self, claim: ClaimIn, path: str, source_id: int) -> _Pending:
        """One claim with its entities and cited source, checked before anything of it is inserted."""
        speakers = [self.entity(s.entity) for s in claim.speakers]
        if len(set(speakers)) != len(speakers):
            raise DocumentError(f"{path}.speakers", "the same entity is listed twice as a speaker")
        location = self.entity(claim.location) if claim.location else None
        mentions = [self.entity(m) for m in claim.mentions]
        cited = None
        if claim.appearance is not None and claim.appearance.cited_source is not None:
            cited, _ = await self.source(claim.appearance.cited_source)
            if cited == source_id:
                raise DocumentError(f"{path}.appearance.cited_source", "a source cannot cite itself for its own claim")
        fingerprint = claim_fingerprint(speakers, claim.content)
        return _Pending(claim, speakers, location, mentions, cited, fingerprint, path)

    async def claims(self, pending: list[_Pending], source_id: int) -> list[ClaimOutcome]:
        """Insert the document's claims, their speakers, mentions, topics and appearances: a round trip
        for each kind of row, whatever the number of claims. A claim given twice (same speakers and
        content) is one claim; only its first mention creates it, and its first appearance."""
        firsts: dict[str, _Pending] = {}
        for p in pending:
            firsts.setdefault(p.fingerprint, p)
            self.paths.setdefault(p.fingerprint, p.path)
        first = list(firsts.values())
        speakers = [
            (p.fingerprint, entity_id, speaker.role, position)
            for p in first
            for position, (entity_id, speaker) in enumerate(zip(p.speakers, p.claim.speakers, strict=True))
        ]
        rows = await self.tx.fetch(
            writes.INSERT_CLAIMS,
            [p.fingerprint for p in first],
            [p.claim.content for p in first],
            [p.claim.kind for p in first],
            [p.claim.language for p in first],
            [p.claim.said_at for p in first],
            [p.claim.said_at_precision for p in first],
            [p.location for p in first],
            [self.published[source_id] if p.claim.appearance is not None else None for p in first],
            *columns(speakers, 4),
            *writes.provenance([p.claim for p in first]),
        )
        ids = {r["fingerprint"]: int(r["id"]) for r in rows}
        created = set(ids)
        if len(ids) < len(first):
            for r in await self.tx.fetch(
                writes.CLAIMS_BY_FINGERPRINT, [p.fingerprint for p in first if p.fingerprint not in ids]
            ):
                ids[r["fingerprint"]] = int(r["id"])
                if r["deleted"]:
                    raise ClaimDeleted(self.paths[r["fingerprint"]], int(r["id"]))
        mentions = [(ids[p.fingerprint], m) for p in pending for m in p.mentions]
        if mentions:
            await self.tx.execute(writes.ADD_MENTIONS, *columns(mentions, 2))
        topics = [(ids[p.fingerprint], slug) for p in pending for slug in p.claim.topics]
        if topics:
            await self.tx.execute(writes.ADD_CLAIM_TOPICS, *columns(topics, 2))
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
    path: str


async def _write(tx: Traced, doc: SourceDocument) -> WriteResult:
    await tx.fetchval(writes.WRITE_LOCKS, *writes.lock_keys(doc))
    refs = writes.refs_in_order(doc)
    entities = await writes.Entities.load(tx, (ref for ref, _ in refs))
    ids, entities_created = entities.document(refs)
    real = await entities.insert(tx)
    writer = _Writer(tx, {key: real.get(i, i) for key, i in ids.items()})
    source_id, source_created = await writer.source(doc.source, doc.source.text)
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
    result.entities_created = entities_created
    return result


async def write_source_document(db: Database, doc: SourceDocument) -> WriteResult:
    """Write ``doc`` in one transaction; the same document twice changes nothing the second time.

    Raises `DocumentError` (nothing written) when a reference does not resolve or the database
    refuses a value. Serialisation failures and deadlocks between concurrent writers are retried.
    """
    return await writes.in_transaction(db, lambda tx: _write(tx, doc))


GROWING_TABLES = "entity, entity_alias, entity_external_id, source, claim, appearance"


class Statistics:
    """Refreshes the planner's statistics while a bulk write grows the tables it looks rows up in.

    A load into a new or small database grows ``entity``, ``entity_alias``, ``source`` and ``claim``
    from a few rows to many while each connection keeps the plans it made when they were tiny:
    PostgreSQL then estimates one row and reads ``entity`` in full for every name look-up, so the
    look-ups of one document grow with the table, already at a few hundred entities, until
    autovacuum gets round to an ``ANALYZE``, a minute or more later. `written` runs ``ANALYZE`` on those
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
