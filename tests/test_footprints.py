"""Which batches of `claims load` may be written side by side (db/footprints.py, api/importers/order.py).

Footprints of documents, what a database's names settle, and which earlier batches in flight a
batch waits for; tests/test_bulk_import.py writes batches in the orders these allow.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.importers.order import Order
from db.database import Database
from db.documents import write_source_document
from db.footprints import Footprint, Known, Settled
from db.normalize import name_norm
from schema.documents import SourceDocument
from tests.helpers import claim, document, speaker

MERZ = speaker("Friedrich Merz", aliases=["Merz"])
UNOPENED = Database("postgresql://unused")  # `Order.blockers` reads no database


def of(*docs: dict[str, Any]) -> Footprint:
    return Footprint.of(SourceDocument.model_validate(d) for d in docs)


def keys(*docs: dict[str, Any]) -> frozenset[str]:
    found = of(*docs).keys
    assert found is not None
    return found


def meet(a: dict[str, Any], b: dict[str, Any] | Footprint) -> bool:
    return of(a).meets(b if isinstance(b, Footprint) else of(b))


def in_known(footprint: Footprint) -> Footprint:
    """``footprint`` narrowed in a database holding `KNOWN`'s rows."""
    return footprint.narrowed(*KNOWN.settled(footprint))


def said(url: str | None, *speakers: dict[str, Any], content: str | None = None, **source: Any) -> dict[str, Any]:
    """A document with one claim, in words of its own unless ``content`` is given."""
    return document(url, claim(content or f"Words of {url}.", *speakers), **source)


def test_a_footprint_holds_every_name_and_alias_the_source_the_claims_and_the_names_of_its_topics() -> None:
    doc = document(
        "https://A.example/1#top",
        claim(
            "Security guarantees must be robust!",
            MERZ,
            mentions=[{"name": "Ukraine", "kind": "place"}],
            location={"name": "Paris"},
            topics=["ukraine", "europe"],
        ),
        topics=[{"slug": "europe", "name": "Europe!"}],
        authors=[{"name": "Jane Roe", "kind": "person"}],
    )
    assert keys(doc) == {
        "n:reuters",
        "n:jane roe",
        "n:friedrich merz",
        "n:merz",
        "n:ukraine",
        "n:paris",
        "s:url:https://a.example/1",
        "c:security guarantees must be robust",
    }
    assert of(doc).topics == {"ukraine": {"Ukraine"}, "europe": {"Europe!"}}


def about(slug: str, named: str | None = None, i: int = 0) -> dict[str, Any]:
    """A document of its own (``i``) whose claim is on topic ``slug``, which it names ``named`` if given."""
    doc = said(f"https://{i}.example/", speaker(f"P{i}"), publisher=f"O{i}")
    doc["claims"][0]["topics"] = [slug]
    doc["topics"] = [{"slug": slug, "name": named}] if named else []
    return doc


def test_batches_meet_on_a_topic_only_when_they_would_name_it_differently() -> None:
    assert not meet(about("ukraine", i=1), about("ukraine", i=2))
    assert not meet(about("ukraine", "Ukraine", i=1), about("ukraine", i=2))  # the name made of the slug
    assert meet(about("ukraine", "Ukraine war", i=1), about("ukraine", i=2))
    assert meet(about("ukraine", i=1), about("ukraine", "UKRAINE", i=2))
    # Within a batch, every name a document would give it counts (its first document may be refused).
    assert meet(about("ukraine", i=1), of(about("ukraine", i=2), about("ukraine", "Kyiv", i=3)))


def test_a_name_in_any_spelling_or_kind_and_an_alias_meet_the_entity_they_may_find() -> None:
    first = said("https://a.example/1", MERZ, publisher="AFP")
    assert meet(first, said("https://b.example/2", speaker("Friédrich MERZ"), publisher="DPA"))
    assert meet(first, said("https://b.example/2", speaker("Merz"), publisher="DPA"))
    assert meet(first, said("https://b.example/2", speaker("Friedrich Merz", kind=None), publisher="DPA"))
    assert meet(first, said("https://b.example/2", speaker("Olaf Scholz"), publisher="afp"))
    assert not meet(first, said("https://b.example/2", speaker("Olaf Scholz"), publisher="DPA"))


def test_the_same_source_or_claim_in_other_words_meets_it() -> None:
    first = said("https://a.example/1", speaker("A"), content="We act!", publisher="AFP")
    assert meet(first, said("https://A.EXAMPLE:443/1#top", speaker("B"), content="Other.", publisher="DPA"))
    assert meet(first, said("https://b.example/2", speaker("B"), content="we  ACT.", publisher="DPA"))
    # Without a URL a source is its kind, title and date (and publisher, whose entity is not known yet).
    untitled = said(None, speaker("A"), title="Brief", published_at="2025-11-01", publisher="AFP")
    assert meet(untitled, said(None, speaker("B"), content="2", title="brief", published_at="2025-11-01"))
    assert not meet(untitled, said(None, speaker("B"), content="2", title="brief", published_at="2025-11-02"))


@pytest.mark.parametrize(
    "doc",
    [
        said("https://b.example/2", {"entity": {"id": 1}}),
        said("https://b.example/2", speaker("Friedrich Merz", external_ids={"wikidata": "Q2514"})),
        said("https://b.example/2", speaker("Friedrich Merz", roles=[{"title": "Chancellor"}])),
        document(
            "https://b.example/2",
            claim("First.", speaker("A")),
            claim("Second.", speaker("A"), relations=[{"kind": "supports", "claim_index": 0}]),
        ),
        document(
            "https://b.example/2",
            claim(
                "Cited.", speaker("A"), appearance={"quote": "Cited.", "cited_source": {"kind": "other", "title": "X"}}
            ),
        ),
    ],
    ids=["entity-id", "external-id", "roles", "relations", "cited-source"],
)
def test_a_look_up_that_is_no_key_makes_a_batch_wait_for_all_before_it_and_all_after_it_wait(
    doc: dict[str, Any],
) -> None:
    assert of(said("https://a.example/1", speaker("A")), doc).keys is None
    order = Order(UNOPENED)
    apart = [order.register(of(said(f"https://{i}.example/", speaker(f"P{i}"), publisher=f"O{i}"))) for i in range(2)]
    barrier = order.register(of(doc))
    after = order.register(of(said("https://c.example/3", speaker("Nobody"), publisher="Nowhere")))
    assert [order.blockers(n) for n in [*apart, barrier, after]] == [[], [], apart, [barrier]]


def test_a_batch_waits_only_for_earlier_batches_in_flight_that_it_meets() -> None:
    order = Order(UNOPENED)
    first = order.register(of(said("https://a.example/1", MERZ)))
    apart = order.register(of(said("https://b.example/2", speaker("Olaf Scholz"), publisher="AFP")))
    twice = order.register(of(said("https://f.example/6", speaker("Merz"), speaker("Friedrich Merz"), publisher="DPA")))
    assert [order.blockers(n) for n in [first, apart, twice]] == [[], [], [first]]
    order.finish(first)
    assert order.blockers(twice) == []


KNOWN = Known.of(
    [
        ("friedrich merz", 1, "person", "friedrich merz"),
        ("merz", 1, "person", "friedrich merz"),
        ("nato", 2, "other", "nato"),
        ("paris", 3, "place", "paris"),
        ("paris", 4, "person", "paris"),
    ],
    topics=["ukraine"],
)


@pytest.mark.parametrize(
    ("kind", "names", "settled"),
    [
        ("person", ["Friedrich Merz"], True),
        (None, ["Friedrich Merz"], True),  # no kind: any entity, and the one bearing the name is preferred
        ("person", ["Friedrich Merz", "Merz"], True),
        ("person", ["Friedrich Merz", "F. Merz"], False),  # would add an alias
        ("organization", ["Friedrich Merz"], False),  # not of its kind: one would be created
        ("person", ["Merz"], False),  # only an alias: an entity named "Merz" would be preferred once created
        ("person", ["Merz", "Friedrich Merz"], False),
        ("organization", ["NATO"], True),  # kind "other" is found by every kind
        ("place", ["Paris"], True),
        (None, ["Paris"], True),  # two entities bear the name: the lowest id, created before any new one
        ("event", ["Paris"], False),
        ("person", ["Olaf Scholz"], False),
    ],
)
def test_a_reference_is_settled_when_an_entity_bearing_its_name_answers_to_all_its_names(
    kind: str | None, names: list[str], settled: bool
) -> None:
    doc = said("https://a.example/1", speaker(names[0], kind, aliases=names[1:]), publisher="NATO")
    narrowed = in_known(of(doc)).keys or frozenset()
    assert ("n:" + name_norm(names[0]) in narrowed) is not settled
    assert "n:nato" not in narrowed  # the publisher, an organisation


def test_a_name_stays_while_any_reference_to_it_is_unsettled_and_existing_topics_leave() -> None:
    doc = document(
        "https://a.example/1",
        claim(
            "One.",
            speaker("Friedrich Merz"),
            mentions=[{"name": "Friedrich Merz", "kind": "organization"}],
            topics=["ukraine", "europe"],
        ),
        claim("Two.", speaker("Merz")),
        publisher="NATO",
    )
    narrowed = in_known(of(doc))
    assert keys(doc) - (narrowed.keys or frozenset()) == {"n:nato"}
    assert set(narrowed.topics) == {"europe"}


async def test_what_the_database_settled_is_read_once_for_all_batches(db: Database) -> None:
    await write_source_document(db, SourceDocument.model_validate(said("https://a.example/1", MERZ, publisher="AFP")))
    settled, statements = Settled(), []
    db.statement_listeners.append(statements.append)
    first = await settled.narrow(db, of(said("https://b.example/2", speaker("Friedrich Merz"), publisher="AFP")))
    again = await settled.narrow(db, of(said("https://c.example/3", speaker("Friedrich Merz"), publisher="AFP")))
    assert first.names == again.names == frozenset()
    assert len(statements) == 1
    unsettled = await settled.narrow(db, of(said("https://d.example/4", speaker("Merz"), publisher="AFP")))
    assert unsettled.names == {("person", ("merz",))} and len(statements) == 2
