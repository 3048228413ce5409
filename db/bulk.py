"""Writing many source documents in one transaction: one statement per kind of row for all of them.

`claims load` spends most of a one-document transaction (`db.documents.write_source_document`) on
round trips and on PostgreSQL setting up each small statement; `write_documents` writes a batch of
consecutive documents with the same statements spanning the batch. The outcome is the outcome of
writing them one at a time in order: the names are looked up once for the whole batch and resolved
document by document against what the database holds plus what the earlier documents of the batch
created (`db.writes.Entities`, the resolver of every write), so the first document naming an
entity creates it with its spelling, kind and description, and every name becomes an alias; a
source or claim given twice in a batch is one row, created by its first document, with an
appearance in each source. That is the outcome of writing them one at a time after what the
database held when the batch looked its names up; the order of concurrent batches is the caller's:
`claims load` holds a batch back while an earlier one that may find or create any of the same rows
is being written (`db.footprints`, `api.importers.order`), so several batches at once give the
file's order.

Only `batchable` documents go this way: plain names (no id, external id or role), no relations, no
cited sources. The rest need look-ups that depend on one another and stay with the one-document
writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from db.database import Database, Traced
from db.normalize import claim_fingerprint, name_norm, source_key
from db.writes import (
    ADD_CLAIM_TOPICS,
    ADD_MENTIONS,
    CLAIMS_BY_FINGERPRINT,
    INSERT_CLAIMS,
    WRITE_LOCKS,
    ClaimOutcome,
    DocumentError,
    Entities,
    RefKey,
    WriteResult,
    columns,
    in_transaction,
    lock_keys,
    provenance,
    ref_key,
    refs_in_order,
    topic_names,
)
from schema.documents import ClaimIn, EntityRef, SourceDocument

ADD_TOPICS = """
INSERT INTO topic (slug, name)
SELECT t.slug, t.name FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t (slug, name, ord)
ORDER BY t.ord
ON CONFLICT (slug) DO NOTHING
"""
INSERT_SOURCES = """
INSERT INTO source (key, kind, title, url, publisher_id, published_at, language, text)
SELECT t.key, t.kind, t.title, t.url, t.publisher_id, t.published_at, t.language, t.text
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], $7::text[],
            $8::text[]) WITH ORDINALITY
  AS t (key, kind, title, url, publisher_id, published_at, language, text, ord)
ORDER BY t.ord
ON CONFLICT (key) DO NOTHING
RETURNING id, key, published_at
"""
# The sources that were there already (a statement of its own: one committed by another writer
# while INSERT_SOURCES waited is not in that statement's snapshot), filling in a missing text or
# language as FILL_SOURCE does.
FILL_SOURCES = """
WITH t AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS t (key, text, language)
), filled AS (
  UPDATE source s SET text = coalesce(s.text, t.text), language = coalesce(s.language, t.language)
  FROM t
  WHERE s.key = t.key
    AND ((s.text IS NULL AND t.text IS NOT NULL) OR (s.language IS NULL AND t.language IS NOT NULL))
)
SELECT s.id, s.key, s.published_at FROM source s JOIN t ON s.key = t.key
"""
ADD_AUTHORS = """
INSERT INTO source_author (source_id, entity_id, position)
SELECT t.source_id, t.entity_id, t.position
FROM unnest($1::bigint[], $2::bigint[], $3::int[]) WITH ORDINALITY AS t (source_id, entity_id, position, ord)
ORDER BY t.ord
ON CONFLICT DO NOTHING
"""
# INSERT_APPEARANCES with a source per row: a claim that was there before the batch moves its
# first_reported_at back to the earliest source that newly prints it (aggregated first: an UPDATE …
# FROM with several rows for one claim would take any one of them).
INSERT_APPEARANCES = """
WITH added AS (
  INSERT INTO appearance (claim_id, source_id, quote, span_start, span_end)
  SELECT t.claim_id, t.source_id, t.quote, t.span_start, t.span_end
  FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::int[]) WITH ORDINALITY
    AS t (claim_id, source_id, quote, span_start, span_end, ord)
  ORDER BY t.ord
  ON CONFLICT (claim_id, source_id) DO NOTHING
  RETURNING claim_id, source_id
), earliest AS (
  SELECT a.claim_id, min(s.published_at) AS at
  FROM added a JOIN source s ON s.id = a.source_id
  WHERE s.published_at IS NOT NULL
  GROUP BY a.claim_id
), reported AS (
  UPDATE claim SET first_reported_at = e.at
  FROM earliest e
  WHERE claim.id = e.claim_id AND (claim.first_reported_at IS NULL OR e.at < claim.first_reported_at)
)
SELECT claim_id, source_id FROM added
"""


def batchable(doc: SourceDocument) -> bool:
    """True when `write_documents` can write ``doc``: every entity is referred to by a plain name (no
    id, external id or role), and no claim has relations or a cited source."""
    for claim in doc.claims:
        if claim.relations or (claim.appearance is not None and claim.appearance.cited_source is not None):
            return False
    return all(
        ref.id is None and not ref.external_ids and not ref.roles and ref.name is not None and name_norm(ref.name)
        for ref, _ in refs_in_order(doc)
    )


@dataclass
class _Claim:
    """A claim of a document with its references resolved."""

    claim: ClaimIn
    speakers: list[int]
    location: int | None
    mentions: list[int]
    fingerprint: str = ""


@dataclass
class _Doc:
    """One document of the batch as it is being written."""

    doc: SourceDocument
    refs: dict[RefKey, int] = field(default_factory=dict)
    entities_created: int = 0
    claims: list[_Claim] = field(default_factory=list)
    source_id: int = 0
    source_created: bool = False

    def entity(self, ref: EntityRef) -> int:
        return self.refs[ref_key(ref)]


async def write_documents(db: Database, docs: list[SourceDocument]) -> list[WriteResult]:
    """Write `batchable` ``docs`` in one transaction, with the outcome of writing them one at a time.

    Raises `DocumentError` (nothing written) when one of them cannot be written; which one is for
    the caller to find out by writing them one at a time. Serialisation failures and deadlocks
    between concurrent writers are retried.
    """
    return await in_transaction(db, lambda tx: _write(tx, docs))


async def _write(tx: Traced, docs: list[SourceDocument]) -> list[WriteResult]:
    batch = [_Doc(doc) for doc in docs]
    await tx.fetchval(WRITE_LOCKS, *lock_keys(*docs))
    await _resolve_entities(tx, batch)
    await _add_topics(tx, docs)
    published = await _write_sources(tx, batch)
    for d in batch:
        for c in d.claims:
            c.fingerprint = claim_fingerprint(c.speakers, c.claim.content)
    ids, created = await _insert_claims(tx, batch, published)
    return await _add_links(tx, batch, ids, created)


async def _resolve_entities(tx: Traced, batch: list[_Doc]) -> None:
    """Resolve every reference of every document, document after document, and insert the new
    entities and aliases; fills each document's ``refs`` and ``claims``."""
    refs = [refs_in_order(d.doc) for d in batch]
    entities = await Entities.load(tx, (ref for doc_refs in refs for ref, _ in doc_refs))
    for d, doc_refs in zip(batch, refs, strict=True):
        d.refs, d.entities_created = entities.document(doc_refs)
        for i, claim in enumerate(d.doc.claims):
            speakers = [d.entity(s.entity) for s in claim.speakers]
            if len(set(speakers)) != len(speakers):
                raise DocumentError(f"claims[{i}].speakers", "the same entity is listed twice as a speaker")
            location = d.entity(claim.location) if claim.location else None
            d.claims.append(_Claim(claim, speakers, location, [d.entity(m) for m in claim.mentions]))
    ids = await entities.insert(tx)
    if ids:
        for d in batch:
            d.refs = {k: ids.get(v, v) for k, v in d.refs.items()}
            for c in d.claims:
                c.speakers = [ids.get(s, s) for s in c.speakers]
                c.location = ids.get(c.location, c.location) if c.location is not None else None
                c.mentions = [ids.get(m, m) for m in c.mentions]


async def _add_topics(tx: Traced, docs: list[SourceDocument]) -> None:
    slugs: dict[str, str] = {}
    for doc in docs:
        for slug, name in topic_names(doc).items():
            slugs.setdefault(slug, name)
    if slugs:
        await tx.execute(ADD_TOPICS, list(slugs), list(slugs.values()))


async def _write_sources(tx: Traced, batch: list[_Doc]) -> dict[int, datetime | None]:
    """Insert the batch's sources (one per key, created by its first document, with the first text
    and language given) and their authors; fills each document's source; the sources' dates by id."""
    keyed: dict[str, list[_Doc]] = {}
    for d in batch:
        src = d.doc.source
        publisher = d.entity(src.publisher) if src.publisher else None
        published_at = src.published_at if isinstance(src.published_at, datetime) else None
        key = source_key(url=src.url, kind=src.kind, title=src.title, publisher_id=publisher, published_at=published_at)
        keyed.setdefault(key, []).append(d)
    rows = []
    for key, group in keyed.items():
        src = group[0].doc.source
        text = next((g.doc.source.text for g in group if g.doc.source.text is not None), None)
        language = next((g.doc.source.language for g in group if g.doc.source.language is not None), None)
        publisher = group[0].entity(src.publisher) if src.publisher else None
        published_at = src.published_at if isinstance(src.published_at, datetime) else None
        url = key.removeprefix("url:") if key.startswith("url:") else None
        rows.append((key, src.kind, src.title, url, publisher, published_at, language, text))
    found = {r["key"]: r for r in await tx.fetch(INSERT_SOURCES, *columns(rows, 8))}
    created = set(found)
    missing = [r for r in rows if r[0] not in found]
    if missing:
        found.update(
            {r["key"]: r for r in await tx.fetch(FILL_SOURCES, *columns([(r[0], r[7], r[6]) for r in missing], 3))}
        )
    authors: dict[tuple[int, int], int] = {}
    for key, group in keyed.items():
        source_id = int(found[key]["id"])
        for i, d in enumerate(group):
            d.source_id, d.source_created = source_id, i == 0 and key in created
            for position, author in enumerate(d.doc.source.authors):
                authors.setdefault((source_id, d.entity(author)), position)
    if authors:
        await tx.execute(ADD_AUTHORS, *columns([(s, e, p) for (s, e), p in authors.items()], 3))
    return {int(r["id"]): r["published_at"] for r in found.values()}


async def _insert_claims(
    tx: Traced, batch: list[_Doc], published: dict[int, datetime | None]
) -> tuple[dict[str, int], set[str]]:
    """Insert each claim not yet known, with its speakers: by its first mention in the batch."""
    firsts: dict[str, _Claim] = {}
    # A new claim's appearances are all new, so it was first reported on the earliest date among the
    # batch's sources that print it (the one-at-a-time writer gets there appearance by appearance).
    reported: dict[str, datetime] = {}
    for d in batch:
        at = published[d.source_id]
        for c in d.claims:
            firsts.setdefault(c.fingerprint, c)
            if c.claim.appearance is not None and at is not None:
                reported[c.fingerprint] = min(at, reported.get(c.fingerprint, at))
    first = list(firsts.values())
    speakers = [
        (c.fingerprint, entity_id, speaker.role, position)
        for c in first
        for position, (entity_id, speaker) in enumerate(zip(c.speakers, c.claim.speakers, strict=True))
    ]
    rows = await tx.fetch(
        INSERT_CLAIMS,
        [c.fingerprint for c in first],
        [c.claim.content for c in first],
        [c.claim.kind for c in first],
        [c.claim.language for c in first],
        [c.claim.said_at for c in first],
        [c.claim.said_at_precision for c in first],
        [c.location for c in first],
        [reported.get(c.fingerprint) for c in first],
        *columns(speakers, 4),
        *provenance([c.claim for c in first]),
    )
    ids = {r["fingerprint"]: int(r["id"]) for r in rows}
    created = set(ids)
    if len(ids) < len(first):
        known = [c.fingerprint for c in first if c.fingerprint not in ids]
        ids.update({r["fingerprint"]: int(r["id"]) for r in await tx.fetch(CLAIMS_BY_FINGERPRINT, known)})
    return ids, created


async def _add_links(tx: Traced, batch: list[_Doc], ids: dict[str, int], created: set[str]) -> list[WriteResult]:
    """Mentions, claim topics and appearances of every claim; what each document did."""
    mentions = [(ids[c.fingerprint], m) for d in batch for c in d.claims for m in c.mentions]
    if mentions:
        await tx.execute(ADD_MENTIONS, *columns(mentions, 2))
    topics = [(ids[c.fingerprint], slug) for d in batch for c in d.claims for slug in c.claim.topics]
    if topics:
        await tx.execute(ADD_CLAIM_TOPICS, *columns(topics, 2))
    # Each document's first appearance of each claim; of a claim in a source given twice, the first.
    appearing: dict[tuple[int, int], _Claim] = {}
    for d in batch:
        for c in d.claims:
            if c.claim.appearance is not None:
                appearing.setdefault((ids[c.fingerprint], d.source_id), c)
    added: set[tuple[int, int]] = set()
    if appearing:
        rows = [
            (claim_id, source_id, a.quote, a.span[0] if a.span else None, a.span[1] if a.span else None)
            for (claim_id, source_id), c in appearing.items()
            if (a := c.claim.appearance) is not None
        ]
        added = {
            (int(r["claim_id"]), int(r["source_id"])) for r in await tx.fetch(INSERT_APPEARANCES, *columns(rows, 5))
        }
    results = []
    unclaimed = set(created)
    for d in batch:
        result = WriteResult(d.source_id, d.source_created, entities_created=d.entities_created)
        for c in d.claims:
            claim_id = ids[c.fingerprint]
            pair = (claim_id, d.source_id)
            result.claims.append(
                ClaimOutcome(claim_id, c.fingerprint in unclaimed, pair in added and appearing[pair] is c)
            )
            unclaimed.discard(c.fingerprint)
        results.append(result)
    return results
