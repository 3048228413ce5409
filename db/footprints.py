"""What writing a batch of documents looks up by identity and may create or extend: its footprint.

`claims load` writes several batches at once and promises the outcome of writing every document in
file order (`api.importers.order`): two batches whose footprints do not meet cannot see what the
other writes, so they may be written side by side and committed in either order. A footprint is a
set of keys, one for each row the batch finds by identity and may insert or extend:

- ``n:<norm>`` for each name and alias of each entity reference (`name_norm`, whatever the kind: a
  reference without one finds entities of every kind): a reference finds entities by any of its
  names, and records each of them as an alias of the entity it finds or creates;
- ``s:<key>`` for the source: `source_key` with the URL, and without the publisher (whose entity is
  not resolved yet) when there is none — a coarser key only makes more batches wait;
- ``c:<words>`` for each claim (`content_norm`: a claim is its speakers and its words);

and its topics, with the names it would give them: a topic is its slug and the name of the first
document that uses it, and the report does not count topics, so two batches meet on a topic only
when they name it differently.

A footprint without keys (``keys`` None) meets every other: a document that `db.bulk.batchable`
refuses names an entity by id, external id or with roles, relates claims or cites a source —
look-ups no key stands for — so its batch waits for every batch before it, and every batch after it
waits for it.

What the database has already settled leaves the footprint (`Footprint.narrowed`, `Settled`): a
topic that exists, and a reference that an entity bearing its first name as its own name answers
to, with all its names, and of a kind it accepts. `db.writes.Entities` prefers the entity bearing the
name, then the lowest id; an entity answers to its own name from the moment it is created, and one
created later has a higher id; so nothing written later can change what such a reference finds,
and it adds no alias. A name that is only an alias ("Merz" of Friedrich Merz) is not settled: an
entity named "Merz" would be preferred the moment it is created.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cachetools import FIFOCache

from db.bulk import batchable
from db.database import Database
from db.normalize import content_norm, name_norm, source_key
from db.writes import ALIAS_CANDIDATES, refs_in_order, topic_names
from schema.documents import SourceDocument

KNOWN_TOPICS = "SELECT slug FROM topic WHERE slug = ANY($1::text[])"

# A reference as far as finding its entity goes: the kind it accepts (None: any), its names' norms.
Names = tuple[str | None, tuple[str, ...]]


@dataclass
class Known:
    """What the database already holds of a batch's names and topics."""

    # norm → ids of the entities answering to it; name_norm → (id, kind) of the entities bearing it
    answers: dict[str, set[int]] = field(default_factory=dict)
    named: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    topics: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, aliases: Iterable[Any], topics: Iterable[str] = ()) -> Known:
        """From ALIAS_CANDIDATES's rows (norm, id, kind, name_norm) and the slugs of existing topics."""
        known = cls(topics=set(topics))
        for norm, entity_id, kind, entity_norm in aliases:
            known.answers.setdefault(norm, set()).add(entity_id)
            if norm == entity_norm:
                known.named.setdefault(norm, []).append((entity_id, kind))
        return known

    def settles(self, names: Names) -> bool:
        """True when the entity a reference finds can no longer change, and answers to all its names."""
        kind, norms = names
        found = [i for i, theirs in self.named.get(norms[0], ()) if kind in (None, theirs) or theirs == "other"]
        return bool(found) and all(min(found) in self.answers.get(norm, ()) for norm in norms)

    def settled(self, footprint: Footprint) -> tuple[set[Names], set[str]]:
        """The references and topics of ``footprint`` that this settles."""
        return {n for n in footprint.names if self.settles(n)}, footprint.topics.keys() & self.topics


class Footprint:
    """The keys writing a batch may touch (None: any), the names it may give topics, and what may
    still leave them."""

    def __init__(
        self, fixed: frozenset[str] | None, names: frozenset[Names], topics: Mapping[str, frozenset[str]]
    ) -> None:
        self.fixed = fixed  # its sources and claims, which stay
        self.names = names  # its references that the database has not settled
        self.topics = topics  # slug → the names it may create the topic with, for topics that may be new
        self.keys = None if fixed is None else fixed | {"n:" + norm for _, norms in names for norm in norms}

    @classmethod
    def of(cls, docs: Iterable[SourceDocument]) -> Footprint:
        """The footprint of writing ``docs`` into a database that holds none of their names or topics.

        >>> doc = SourceDocument.model_validate({
        ...     "source": {"kind": "statement", "url": "https://A.example/1#x"},
        ...     "claims": [{"content": "We act!", "speakers": [{"entity": {"name": "Friedrich MERZ"}}]}],
        ... })
        >>> sorted(Footprint.of([doc]).keys or ())
        ['c:we act', 'n:friedrich merz', 's:url:https://a.example/1']
        """
        fixed: set[str] = set()
        names: set[Names] = set()
        topics: dict[str, set[str]] = {}
        for doc in docs:
            if not batchable(doc):
                return cls(None, frozenset(), {})
            names.update((ref.kind, _norms([ref.name, *ref.aliases])) for ref, _ in refs_in_order(doc))
            fixed.add("s:" + _source(doc))
            fixed.update("c:" + content_norm(claim.content) for claim in doc.claims)
            for slug, name in topic_names(doc).items():
                topics.setdefault(slug, set()).add(name)
        return cls(frozenset(fixed), frozenset(names), {slug: frozenset(n) for slug, n in topics.items()})

    def narrowed(self, names: Container[Names], topics: Container[str]) -> Footprint:
        """This footprint less the settled references ``names`` and the existing ``topics``."""
        if self.fixed is None:
            return self
        return Footprint(
            self.fixed,
            frozenset(n for n in self.names if n not in names),
            {slug: n for slug, n in self.topics.items() if slug not in topics},
        )

    def meets(self, other: Footprint) -> bool:
        """True when the two batches may touch the same row: one must wait for the other."""
        if self.keys is None or other.keys is None or not self.keys.isdisjoint(other.keys):
            return True
        mine, theirs = sorted([self.topics, other.topics], key=len)
        return any(slug in theirs and len(names | theirs[slug]) > 1 for slug, names in mine.items())


class Settled:
    """The references and topics the database has settled, remembered across batches — what is settled
    stays so — to read only the others; at most `LIMIT` of each (the oldest go), so that memory stays
    bounded on any file."""

    LIMIT = 1 << 16

    def __init__(self) -> None:
        self.names: FIFOCache[Names, None] = FIFOCache(self.LIMIT)
        self.topics: FIFOCache[str, None] = FIFOCache(self.LIMIT)

    async def narrow(self, db: Database, footprint: Footprint) -> Footprint:
        """``footprint`` less what the database has settled."""
        footprint = footprint.narrowed(self.names, self.topics)
        if footprint.keys is None or not (footprint.names or footprint.topics):
            return footprint
        names, topics = (await known(db, footprint)).settled(footprint)
        self.names.update(dict.fromkeys(names))
        self.topics.update(dict.fromkeys(topics))
        return footprint.narrowed(names, topics)


async def known(db: Database, footprint: Footprint) -> Known:
    """What the database holds now of the names and topics that may leave ``footprint``."""
    norms = sorted({norm for _, norms in footprint.names for norm in norms})
    slugs = sorted(footprint.topics)
    rows = await db.fetch(ALIAS_CANDIDATES, norms) if norms else []
    topics = await db.fetch(KNOWN_TOPICS, slugs) if slugs else []
    return Known.of((tuple(r) for r in rows), (r["slug"] for r in topics))


def _norms(names: list[str | None]) -> tuple[str, ...]:
    """A plain reference's names as the resolver looks them up, its own name first."""
    return tuple(norm for name in names if name and (norm := name_norm(name)))


def _source(doc: SourceDocument) -> str:
    src = doc.source
    published_at = src.published_at if isinstance(src.published_at, datetime) else None
    return source_key(url=src.url, kind=src.kind, title=src.title, publisher_id=None, published_at=published_at)
