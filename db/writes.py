"""What both writers of source documents share: the one-document writer (db/documents.py) and the
batch writer of `claims load` (db/bulk.py).

The errors and results they report, the transaction they retry, the locks they take, the statements
that insert claims and their links, and `Entities`: the one place where an entity reference becomes
an entity. DESIGN.md's identity rule is applied there and only there: a reference finds its entity
by id, else by external id, else by any of its names (case- and accent-insensitive, the entity
named exactly so first), else creates it; every name it gives becomes an alias.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import asyncpg

from db.database import Database, Traced
from db.normalize import name_norm
from schema.documents import ClaimIn, EntityRef, SourceDocument, SourceRef

T = TypeVar("T")
RETRIES = 8


class DocumentError(Exception):
    """The document cannot be written as given; nothing was written.

    ``field`` is the path of the offending value inside the document (``claims[1].speakers[0].entity``),
    or, for a value the database refuses, its table and column (``claim.content``): never a request's
    path, which each API adds in its own terms. ``code`` is ``invalid``, ``not_found`` or ``constraint``.
    """

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


class ClaimDeleted(DocumentError):
    """The document repeats a claim (same speakers, same content) that was deleted: it is not
    written onto the deleted record, nor restored by a writer (a deletion is an admin's act)."""

    def __init__(self, field: str, claim_id: int) -> None:
        super().__init__(field, f"claim {claim_id} (the same speakers and content) was deleted", "deleted")
        self.claim_id = claim_id


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


# -- the transaction ---------------------------------------------------------------------------

RETRYABLE = (asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError)
INVALID = (
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


async def in_transaction(db: Database, write: Callable[[Traced], Awaitable[T]]) -> T:
    """``write`` in one transaction, run again after a serialisation failure or a deadlock between
    concurrent writers; a value the database refuses is a `DocumentError`."""
    for attempt in range(RETRIES):
        try:
            async with db.transaction() as tx:
                return await write(tx)
        except RETRYABLE:
            if attempt == RETRIES - 1:
                raise
            await asyncio.sleep(0.01 * 2**attempt)
        except INVALID as exc:
            table = getattr(exc, "table_name", None) or "document"
            column = getattr(exc, "column_name", None)
            constraint = getattr(exc, "constraint_name", None)
            message = f"rejected by the database ({constraint})" if constraint else "rejected by the database"
            raise DocumentError(f"{table}.{column}" if column else str(table), message, "constraint") from exc
    raise AssertionError("unreachable")


# -- locks ---------------------------------------------------------------------------------------

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


def refs_in_order(doc: SourceDocument) -> list[tuple[EntityRef, str]]:
    """The document's entity references with their paths, in the order they are resolved: the source's
    publisher and authors, then claim by claim its speakers, location, mentions and cited source."""
    refs: list[tuple[EntityRef, str]] = []

    def of_source(src: SourceRef, path: str) -> None:
        refs.extend([(src.publisher, f"{path}.publisher")] if src.publisher else [])
        refs.extend((a, f"{path}.authors[{i}]") for i, a in enumerate(src.authors))

    of_source(doc.source, "source")
    for i, claim in enumerate(doc.claims):
        refs.extend((s.entity, f"claims[{i}].speakers[{j}].entity") for j, s in enumerate(claim.speakers))
        refs.extend([(claim.location, f"claims[{i}].location")] if claim.location else [])
        refs.extend((m, f"claims[{i}].mentions[{j}]") for j, m in enumerate(claim.mentions))
        if claim.appearance is not None and claim.appearance.cited_source is not None:
            of_source(claim.appearance.cited_source, f"claims[{i}].appearance.cited_source")
    return refs


def lock_keys(*docs: SourceDocument) -> tuple[list[str], list[str | None], list[str | None]]:
    """WRITE_LOCKS's keys for ``docs`` together: the merge lock, external ids, and names with the
    kind they are looked up as."""
    rows: set[tuple[str, str | None, str | None]] = {(MERGE_LOCK, None, None)}
    for doc in docs:
        for ref, _ in refs_in_order(doc):
            rows.update((f"x:{scheme}:{value}", None, None) for scheme, value in ref.external_ids.items())
            for name in [ref.name, *ref.aliases]:
                if name and (norm := name_norm(name)):
                    rows.add(("n:" + norm, norm, ref.kind))
    keys, norms, kinds = zip(*rows, strict=True)
    return list(keys), list(norms), list(kinds)


# -- claims and their links ------------------------------------------------------------------------

# New claims and their speakers in one round trip (one row per claim, each fingerprint once;
# per-row INSERTs cost PostgreSQL most of an import: each builds the table's constraint and
# generated-column expressions anew). The speakers' BEFORE INSERT trigger reads the claim's
# said_key: it sees the rows `added` inserted, since a trigger's queries see what the calling
# statement has done so far. A claim about to appear in a source is first reported when that source
# was published ($8: the earliest such date): set now, the appearance's update of the new row (a
# second version of it in every index, the full-text one included) finds nothing to move.
INSERT_CLAIMS = """
WITH added AS (
  INSERT INTO claim (fingerprint, content, kind, language, said_at, said_at_precision, location_id,
                     first_reported_at, review_state, extractor, extractor_version, confidence)
  SELECT t.fingerprint, t.content, t.kind, t.language, t.said_at, t.said_at_precision, t.location_id,
         t.first_reported_at, CASE WHEN t.extractor IS NULL THEN 'curated' ELSE 'unreviewed' END,
         t.extractor, t.extractor_version, t.confidence
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::bigint[],
              $8::timestamptz[], $13::text[], $14::text[], $15::real[]) WITH ORDINALITY
    AS t (fingerprint, content, kind, language, said_at, said_at_precision, location_id, first_reported_at,
          extractor, extractor_version, confidence, ord)
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
CLAIMS_BY_FINGERPRINT = (
    "SELECT id, fingerprint, deleted_at IS NOT NULL AS deleted FROM claim WHERE fingerprint = ANY($1::text[])"
)
ADD_MENTIONS = """
INSERT INTO mention (claim_id, entity_id) SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING
"""
ADD_CLAIM_TOPICS = """
INSERT INTO claim_topic (claim_id, topic_id)
SELECT t.claim_id, topic.id FROM unnest($1::bigint[], $2::text[]) AS t (claim_id, slug)
JOIN topic ON topic.slug = t.slug
ON CONFLICT DO NOTHING
"""


def topic_names(doc: SourceDocument) -> dict[str, str]:
    """The topics ``doc`` creates when they are new, by slug: its own names, else one made of the slug."""
    names = {t.slug: t.name for t in doc.topics}
    for claim in doc.claims:
        for slug in claim.topics:
            names.setdefault(slug, slug.replace("-", " ").capitalize())
    return names


def provenance(claims: list[ClaimIn]) -> tuple[list[str | None], list[str | None], list[float | None]]:
    """INSERT_CLAIMS's extractor, version and confidence columns ($13–$15; all None for curated claims)."""
    found = [c.extraction for c in claims]
    return (
        [e.extractor if e else None for e in found],
        [e.version if e else None for e in found],
        [e.confidence if e else None for e in found],
    )


def columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as ``width`` column lists for ``unnest($1, $2, …)``: ``[(1, "a"), (2, "b")]`` → ``[[1, 2], ["a", "b"]]``."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


# -- entities ------------------------------------------------------------------------------------

# Every live entity answering to one of the write's names, with what a name look-up ranks them by.
ALIAS_CANDIDATES = """
SELECT a.norm, e.id, e.kind, e.name_norm FROM entity_alias a JOIN entity e ON e.id = a.entity_id
WHERE a.norm = ANY($1::text[]) AND e.merged_into IS NULL
"""
# The entities references name by id ($1), as the live entity each stands for now.
ENTITIES_BY_ID = """
SELECT e.id AS ref, s.id, s.kind, s.name_norm FROM entity e JOIN entity s ON s.id = coalesce(e.merged_into, e.id)
WHERE e.id = ANY($1::bigint[])
"""
ENTITIES_BY_EXTERNAL_ID = """
SELECT x.scheme, x.value, x.entity_id AS holder, s.id, s.kind, s.name_norm
FROM entity_external_id x JOIN entity e ON e.id = x.entity_id JOIN entity s ON s.id = coalesce(e.merged_into, e.id)
WHERE (x.scheme, x.value) IN (SELECT * FROM unnest($1::text[], $2::text[]))
"""
# The write's new entities (in the order its references name them) and its new aliases: $5 is the
# existing entity, or NULL and ($6, $7) the new entity's kind and name_norm (never two new entities
# with both the same: the second would have found the first).
INSERT_ENTITIES = """
WITH created AS (
  INSERT INTO entity (kind, name, name_norm, description)
  SELECT t.kind, t.name, t.name_norm, t.description
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
    AS t (kind, name, name_norm, description, ord)
  ORDER BY t.ord
  RETURNING id, kind, name_norm
), aliases AS (
  INSERT INTO entity_alias (entity_id, alias, norm)
  SELECT coalesce(t.entity_id, c.id), t.alias, t.norm
  FROM unnest($5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[]) WITH ORDINALITY
    AS t (entity_id, kind, name_norm, alias, norm, ord)
  LEFT JOIN created c ON c.kind = t.kind AND c.name_norm = t.name_norm
  ORDER BY t.ord
  ON CONFLICT DO NOTHING
)
SELECT id, kind, name_norm FROM created
"""
ADD_EXTERNAL_IDS = """
INSERT INTO entity_external_id (entity_id, scheme, value)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING
"""
ADD_ROLES = """
INSERT INTO entity_role (entity_id, title, start_date, end_date)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::date[], $4::date[]) ON CONFLICT DO NOTHING
"""
# Ids of the entities a write creates, until INSERT_ENTITIES gives the real ones: above every real
# id, in creation order, as the real ones will be (a name look-up prefers the lowest id on a tie).
NEW = 1 << 62

RefKey = tuple[Any, ...]


def ref_key(ref: EntityRef) -> RefKey:
    """What tells two references apart: within a document, equal references are one entity."""
    roles = tuple((r.title, r.start, r.end) for r in ref.roles) if ref.roles else ()
    return (ref.id, ref.name, ref.kind, tuple(ref.aliases), ref.description, tuple(ref.external_ids.items()), roles)


@dataclass(frozen=True)
class _Entity:
    """An entity as a name look-up ranks it."""

    id: int
    kind: str
    name_norm: str


@dataclass(frozen=True)
class _NewEntity:
    kind: str
    name: str
    name_norm: str
    description: str | None


class Entities:
    """Resolves a write's entity references, one after another, as the database would after each.

    `load` reads every entity the references can find in at most three statements; `resolve` then
    works in memory, seeing what earlier references created or added (entities, aliases, external
    ids), and `insert` writes all of that in one to three statements.
    """

    def __init__(self, candidates: Iterable[Any] = ()) -> None:
        self.by_norm: dict[str, list[_Entity]] = {}
        self.known: set[tuple[int, str]] = set()  # (entity id, norm) of the aliases already stored
        for r in candidates:
            self.by_norm.setdefault(r["norm"], []).append(_Entity(r["id"], r["kind"], r["name_norm"]))
            self.known.add((r["id"], r["norm"]))
        self.by_id: dict[int, _Entity] = {}
        self.by_external: dict[tuple[str, str], tuple[int, _Entity]] = {}  # → (holder's id, entity)
        self.created: list[_NewEntity] = []
        self.aliases: dict[tuple[int, str], str] = {}  # new (entity id, norm) → the first spelling given
        self.external_ids: dict[tuple[str, str], int] = {}  # new (scheme, value) → entity id
        self.roles: dict[tuple[int, str, date | None, date | None], None] = {}

    @classmethod
    async def load(cls, tx: Traced, refs: Iterable[EntityRef]) -> Entities:
        """A resolver knowing every stored entity that ``refs`` can find."""
        norms: set[str] = set()
        ids: set[int] = set()
        external: set[tuple[str, str]] = set()
        for ref in refs:
            norms.update(norm for name in [ref.name, *ref.aliases] if name and (norm := name_norm(name)))
            if ref.id is not None:
                ids.add(ref.id)
            external.update(ref.external_ids.items())
        found = cls(await tx.fetch(ALIAS_CANDIDATES, list(norms)) if norms else ())
        for r in await tx.fetch(ENTITIES_BY_ID, list(ids)) if ids else ():
            found.by_id[r["ref"]] = _Entity(r["id"], r["kind"], r["name_norm"])
        if external:
            for r in await tx.fetch(ENTITIES_BY_EXTERNAL_ID, *columns(list(external), 2)):
                entity = _Entity(r["id"], r["kind"], r["name_norm"])
                found.by_external[(r["scheme"], r["value"])] = (r["holder"], entity)
        return found

    def document(self, refs: list[tuple[EntityRef, str]]) -> tuple[dict[RefKey, int], int]:
        """One document's references resolved in order, each once: entity ids by `ref_key` (those it
        creates provisional until `insert`), and how many entities it created."""
        ids: dict[RefKey, int] = {}
        created = 0
        for ref, path in refs:
            key = ref_key(ref)
            if key not in ids:
                ids[key], new = self.resolve(ref, path)
                created += new
        return ids, created

    def resolve(self, ref: EntityRef, path: str) -> tuple[int, bool]:
        """The entity ``ref`` finds or creates, and whether it was created; its names become aliases
        of it, and its external ids and roles are added to it. `DocumentError` when it finds none and
        cannot create one."""
        names = [n for n in [ref.name, *ref.aliases] if n and name_norm(n)]
        norms = [name_norm(n) for n in names]
        entity = self._find(ref, path, norms)
        created = entity is None
        if entity is None:
            if ref.name is None or not name_norm(ref.name):
                raise DocumentError(path, "no entity has these external ids; give a name to create one")
            entity = _Entity(NEW + len(self.created), ref.kind or "other", name_norm(ref.name))
            self.created.append(_NewEntity(entity.kind, ref.name, entity.name_norm, ref.description))
        for name, norm in zip(names, norms, strict=True):
            if (entity.id, norm) not in self.known:
                self.known.add((entity.id, norm))
                self.aliases[(entity.id, norm)] = name
                self.by_norm.setdefault(norm, []).append(entity)
        for pair in ref.external_ids.items():
            if pair not in self.by_external:
                self.by_external[pair] = (entity.id, entity)
                self.external_ids[pair] = entity.id
        for role in ref.roles:
            self.roles[(entity.id, role.title, role.start, role.end)] = None
        return entity.id, created

    def _find(self, ref: EntityRef, path: str, norms: list[str]) -> _Entity | None:
        if ref.id is not None:
            found = self.by_id.get(ref.id)
            if found is None:
                raise DocumentError(f"{path}.id", f"no entity with id {ref.id}", "not_found")
            return found
        held = [self.by_external[pair] for pair in ref.external_ids.items() if pair in self.by_external]
        if held:
            return min(held, key=lambda h: h[0])[1]  # the lowest id holding one of them
        best: tuple[tuple[bool, bool, int], _Entity] | None = None
        for norm in norms:
            for c in self.by_norm.get(norm, ()):
                if ref.kind is None or c.kind == ref.kind or c.kind == "other":
                    rank = (c.name_norm != norms[0], norm != norms[0], c.id)  # its own name first, then lowest id
                    if best is None or rank < best[0]:
                        best = (rank, c)
        return None if best is None else best[1]

    async def insert(self, tx: Traced) -> dict[int, int]:
        """Write the entities, aliases, external ids and roles the references created or added; the
        real id of each provisional one."""
        real: dict[int, int] = {}
        if self.created or self.aliases:
            new = self.created
            aliases = [
                (None, new[eid - NEW].kind, new[eid - NEW].name_norm, alias, norm)
                if eid >= NEW
                else (eid, None, None, alias, norm)
                for (eid, norm), alias in self.aliases.items()
            ]
            rows = await tx.fetch(
                INSERT_ENTITIES,
                [e.kind for e in new],
                [e.name for e in new],
                [e.name_norm for e in new],
                [e.description for e in new],
                *columns(aliases, 5),
            )
            made = {(r["kind"], r["name_norm"]): int(r["id"]) for r in rows}
            real = {NEW + i: made[(e.kind, e.name_norm)] for i, e in enumerate(new)}
        if self.external_ids:
            rows_ = [(real.get(eid, eid), scheme, value) for (scheme, value), eid in self.external_ids.items()]
            await tx.execute(ADD_EXTERNAL_IDS, *columns(rows_, 3))
        if self.roles:
            await tx.execute(ADD_ROLES, *columns([(real.get(k[0], k[0]), *k[1:]) for k in self.roles], 4))
        return real
