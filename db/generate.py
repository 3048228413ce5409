"""A synthetic corpus with a realistic shape, added in bulk: for benchmarks and load tests.

``generate_corpus(db, 1_000_000)`` adds, in one transaction, about n/50 people (a few of whom say
most claims), 200 outlets (reused when a previous run made them), n/2 news articles over ten years,
n claims (1.1 speakers, 2.65 appearances, 1 mention and 1.2 topics each on average) — consistent
with what `db.documents.write_source_document` would have written for the same facts:

- entity names and aliases carry the same ``name_norm`` the store computes (`db.normalize`);
- each claim's fingerprint is `db.normalize.claim_fingerprint` of its speakers and content, and
  contents are unique by construction (four leading words encode the claim's number);
- each source's key is ``url:`` + its normalised URL;
- ``first_reported_at`` is the earliest ``published_at`` among the claim's appearances, and the link
  tables carry the claim's ``said_key`` (what the triggers keep).

The small tables (entities, aliases) are built in Python and sent with ``COPY``; the large ones are
built inside PostgreSQL with ``INSERT … SELECT … FROM generate_series``, their randomness from
``hashint8extended(row number, seed)``, so each statement can recompute the choices another one made
(the appearances' sources, hence a claim's first report) without a lookup. Rows get explicit ids above
the current maximum (sequences moved past them afterwards), so a run adds to whatever is there.
A run that at least doubles the claims drops the secondary indexes and the unique constraints no
foreign key needs, and builds them again at the end (one sort each instead of row-by-row upkeep).
As a superuser the run uses ``session_replication_role = replica`` — no per-row triggers (one NOTIFY
per claim, said_key copies) and no per-row foreign-key checks, all of which the statements satisfy by
construction; otherwise the triggers run, which is correct but slower.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from db.database import Connection, Database, Traced
from db.normalize import name_norm, slugify

log = logging.getLogger("claims.generate")

# Lowercase ASCII only: a content made of these words is its own `content_norm` (see module doc).
WORDS = (  # noqa: SIM905 - a paragraph reads better than a hundred quoted words
    "the government will not accept any deal that puts our security at risk we have always said energy "
    "prices must come down and families deserve better this agreement is a historic step for peace and "
    "stability in the region our economy grew faster than expected last year while inflation fell "
    "sanctions are working and the pressure will continue until troops leave every occupied territory "
    "we need more nurses teachers and police officers not more taxes on working people the election "
    "results show that voters want change climate targets remain within reach if we invest now border "
    "controls have never been stronger parliament must vote on the budget before the summer recess "
    "negotiations resumed today after a long pause trade tariffs hurt farmers and factories alike"
).split()
WORD_LIST = list(dict.fromkeys(WORDS))  # distinct, in order: the base of the unique-prefix encoding

FIRST_NAMES = (  # noqa: SIM905
    "Anna Ben Carla David Elena Farid Grace Hugo Irene Jonas Keiko Liam Maria Nikolai Olga Pedro Quentin "
    "Rosa Samuel Tanja Ugo Valeria Wei Ximena Yusuf Zoë José François Łukasz Søren Ana Marek Ingrid "
    "Chidi Priya Omar Lena Mateo Aiko Kwame Sofia Emre Nadia Tomás Greta Ravi Leila Jakub Chloé Malik"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Schmidt Müller García Rossi Dubois Novak Kowalski Andersen Ivanova Okafor Tanaka Smith Johnson "
    "Brown Martin Bernard Moreau Fischer Weber Lopez Silva Santos Costa Nielsen Berg Horvat Popescu "
    "Petrov Kovač Yilmaz Haddad Mensah Nakamura Chen Wang Kim Singh Patel Khan Ahmed Cohen Levi "
    "O'Brien Murphy Walsh Jansen de Vries Van Dijk Lindqvist Virtanen Nagy Papadopoulos Öztürk Sørensen "
    "Núñez Ibáñez Doyle Fontaine Keller Brandt Vogel"
).split()
TITLES = (  # noqa: SIM905
    "minister|spokesperson|member of parliament|governor|mayor|senator|economist|union leader|chief executive|analyst"
).split("|")
OUTLET_ADJECTIVES = (  # noqa: SIM905
    "Morning Evening Daily Weekly Global National Northern Southern Eastern Western Central Coastal "
    "Metropolitan Independent Free United Royal Capital Valley Harbour"
).split()
OUTLET_NOUNS = "Herald Post Times Tribune Gazette Observer Chronicle Courier Journal Standard".split()  # noqa: SIM905
TOPICS = (  # noqa: SIM905
    "Economy|Energy|Security|Elections|Healthcare|Education|Immigration|Climate|Taxes|Trade|Crime|"
    "Foreign policy|Defence|Housing|Transport|Agriculture|Technology|Labour|Pensions|Budget|Human rights|"
    "Justice|Environment|Space|Science|Culture|Sport|Media|Religion|Local government|European Union|"
    "United Nations|NATO|Ukraine|Middle East|China|Africa|Latin America|Public health|Digital rights"
).split("|")
PUBLISHERS = 200
YEARS = 10
# Output languages: mostly English, as in the real data sets; publishers and claims draw from it.
LANGUAGES = ["en", "en", "en", "en", "en", "en", "de", "fr", "es", "ru", "uk", "it"]
MAX_CLAIMS = len(WORD_LIST) ** 4 - 1

GEN_TABLES = ("entity", "entity_alias", "source", "claim", "claim_speaker", "appearance", "mention", "claim_topic")


def _rand(x: str, salt: int) -> str:
    """SQL for a uniform number in [0, 1), a pure function of ``x``, the run's seed and ``salt``.

    >>> _rand("g", 3)[:32]
    '((hashint8extended((g)::bigint, '
    """
    return f"((hashint8extended(({x})::bigint, p.seed * 1000 + {salt}) & 2147483647)::float8 / 2147483648.0)"


def _pick(x: str, salt: int, n: str, power: int = 1) -> str:
    """SQL for an integer in [0, n), skewed towards 0 by ``power`` (3: the top 1 % take a fifth)."""
    r = _rand(x, salt)
    return f"floor({n} * power({r}, {power}))::bigint"


PARAMS = """
CREATE TEMP TABLE gen_params ON COMMIT DROP AS
SELECT $1::bigint AS seed, $2::bigint AS n, $3::bigint AS c0, $4::bigint AS s0, $5::bigint AS n_src,
       $6::bigint AS p0, $7::bigint AS persons, $8::bigint[] AS publishers, $9::text[] AS domains,
       $10::text[] AS words, $11::bigint[] AS topics, $12::timestamptz AS t0, $13::float8 AS span_s,
       $14::text[] AS langs, $15::text[] AS publisher_langs,
       greatest(0.5, 1 - 6.0 * greatest(1, ceil($5 / 5000.0)) / $5) AS share
"""

# The moment claim g was said (before rounding to its precision), and its precision. Claims stop
# six strides of articles (STRIDE, below) before the articles do, so every claim's reports come after it.
CLAIM_SHARE = "p.share"
SAID_RAW = f"(p.t0 + {_rand('g', 1)} * {CLAIM_SHARE} * p.span_s * interval '1 second')"
PRECISION = f"""(CASE WHEN {_rand("g", 2)} < 0.70 THEN 'day' WHEN {_rand("g", 2)} < 0.90 THEN 'instant'
                      WHEN {_rand("g", 2)} < 0.95 THEN 'month' ELSE 'unknown' END)"""
SAID_AT = f"""(CASE {PRECISION} WHEN 'day' THEN date_trunc('day', {SAID_RAW}) WHEN 'instant' THEN {SAID_RAW}
                   WHEN 'month' THEN date_trunc('month', {SAID_RAW}) END)"""
# Speakers: one of the people, a few far more often than the rest; every tenth claim has a second.
SPEAKER_1 = f"(p.p0 + 1 + {_pick('g', 3, 'p.persons', 3)})"
SPEAKER_2_RAW = f"(p.p0 + 1 + {_pick('g', 4, 'p.persons', 2)})"
SPEAKER_2 = f"(CASE WHEN {_rand('g', 5)} < 0.10 AND {SPEAKER_2_RAW} <> {SPEAKER_1} THEN {SPEAKER_2_RAW} END)"
# 1 to 5 reports per claim (mean 2.65).
REPORTS = f"""(CASE WHEN {_rand("g", 6)} < 0.20 THEN 1 WHEN {_rand("g", 6)} < 0.50 THEN 2
                    WHEN {_rand("g", 6)} < 0.75 THEN 3 WHEN {_rand("g", 6)} < 0.90 THEN 4 ELSE 5 END)"""

# Source j (1..n_src) is published at t0 + j/n_src of the span plus up to six hours, so the claims
# said at time t are reported by the articles just after position t: a few days' worth of them.
PUBLISHED = "(p.t0 + ((({j}) - 1) * p.span_s / p.n_src + ({j}) * 7919 % 21600) * interval '1 second')"
SOURCE_BASE = f"(floor({_rand('g', 1)} * {CLAIM_SHARE} * p.n_src)::bigint + 1)"
STRIDE = "greatest(1, ceil(p.n_src / 5000.0))::bigint"
SOURCE_J_RAW = f"({SOURCE_BASE} + 1 + (k - 1) * {STRIDE} + {_pick('g * 8 + k', 7, STRIDE)})"
# Past the last article, count back from it instead (only the last few days of the window).
SOURCE_J = f"""(CASE WHEN {SOURCE_J_RAW} <= p.n_src THEN {SOURCE_J_RAW}
                     ELSE 1 + ((2 * p.n_src - {SOURCE_J_RAW} - 1) % p.n_src + p.n_src) % p.n_src END)"""

# Content: four words that spell the claim's number (so no two contents of a run are equal), then
# 8 to 30 words; written as a sentence, normalised it is the bare words again.
W = "cardinality(p.words)"
UNIQUE_WORDS = " || ' ' || ".join(
    f"p.words[1 + ((g * 48271) % ({W}::bigint ^ 4)::bigint / ({W}::bigint ^ {i})::bigint) % {W}]" for i in range(4)
)
RANDOM_WORDS = f"""(SELECT string_agg(p.words[1 + {_pick("g * 64 + i", 8, W)}], ' ')
                      FROM generate_series(1, 8 + {_pick("g", 9, "23", 2)}::int) AS i)"""
CLAIM_KIND = f"""(CASE WHEN {_rand("g", 10)} < 0.60 THEN 'direct_quote'
                      WHEN {_rand("g", 10)} < 0.75 THEN 'partial_quote' ELSE 'paraphrase' END)"""
CLAIM_LANG = f"p.langs[1 + {_pick('g', 11, 'cardinality(p.langs)')}]"

INSERT_CLAIMS = f"""
INSERT INTO claim (id, fingerprint, content, kind, language, said_at, said_at_precision, first_reported_at)
OVERRIDING SYSTEM VALUE
SELECT p.c0 + g,
       encode(sha256(convert_to(speaker_ids || '|' || body, 'UTF8')), 'hex'),
       upper(left(body, 1)) || substr(body, 2) || '.',
       {CLAIM_KIND}, {CLAIM_LANG}, {SAID_AT}, {PRECISION},
       (SELECT min({PUBLISHED.format(j=SOURCE_J)}) FROM generate_series(1, {REPORTS}) AS k)
FROM gen_params p, generate_series(1, p.n) AS g,
     LATERAL (SELECT {UNIQUE_WORDS} || ' ' || {RANDOM_WORDS} AS body,
                     CASE WHEN {SPEAKER_2} IS NULL THEN {SPEAKER_1}::text
                          ELSE least({SPEAKER_1}, {SPEAKER_2})::text || ',' || greatest({SPEAKER_1}, {SPEAKER_2})::text
                     END AS speaker_ids OFFSET 0) AS w
"""

# The link tables read the claims back (by id range) for said_key and content.
NEW_CLAIMS = """FROM gen_params p JOIN claim c ON c.id > p.c0 AND c.id <= p.c0 + p.n,
     LATERAL (SELECT c.id - p.c0 AS g) AS x"""

INSERT_SPEAKERS = f"""
INSERT INTO claim_speaker (claim_id, entity_id, role, position, said_key)
SELECT c.id, s.entity_id, s.role, s.position, c.said_key
{NEW_CLAIMS},
LATERAL (VALUES ({SPEAKER_1}, 'speaker', 0), ({SPEAKER_2}, 'co_signatory', 1)) AS s (entity_id, role, position)
WHERE s.entity_id IS NOT NULL
"""

INSERT_APPEARANCES = f"""
INSERT INTO appearance (claim_id, source_id, quote)
SELECT c.id, p.s0 + {SOURCE_J},
       CASE WHEN c.kind = 'partial_quote' THEN array_to_string((string_to_array(c.content, ' '))[5:12], ' ')
            ELSE c.content END
{NEW_CLAIMS}, generate_series(1, {REPORTS}) AS k
ON CONFLICT (claim_id, source_id) DO NOTHING
"""

INSERT_MENTIONS = f"""
INSERT INTO mention (claim_id, entity_id, said_key)
SELECT c.id, p.p0 + 1 + {_pick("g", 12, "p.persons", 2)}, c.said_key
{NEW_CLAIMS}
WHERE {_rand("g", 13)} < 0.95
"""

INSERT_TOPICS = f"""
INSERT INTO claim_topic (claim_id, topic_id, said_key)
SELECT DISTINCT c.id, p.topics[1 + {_pick("g * 4 + t", 14, "cardinality(p.topics)", 2)}], c.said_key
{NEW_CLAIMS}, generate_series(1, CASE WHEN {_rand("g", 15)} < 0.2 THEN 2 ELSE 1 END) AS t
"""

PUBLISHER_IX = _pick("j", 16, "cardinality(p.publishers)", 2)
TITLE_WORDS = f"""(SELECT string_agg(p.words[1 + {_pick("j * 16 + i", 17, W)}], ' ')
                     FROM generate_series(1, 5 + {_pick("j", 18, "7")}::int) AS i)"""
INSERT_SOURCES = f"""
INSERT INTO source (id, key, kind, title, url, publisher_id, published_at, language)
OVERRIDING SYSTEM VALUE
SELECT p.s0 + j, 'url:' || url, 'news_article', upper(left(title, 1)) || substr(title, 2), url,
       p.publishers[1 + ix], published, p.publisher_langs[1 + ix]
FROM gen_params p, generate_series(1, p.n_src) AS j,
     LATERAL (SELECT {PUBLISHER_IX} AS ix, {TITLE_WORDS} AS title, {PUBLISHED.format(j="j")} AS published
              OFFSET 0) AS a,
     LATERAL (SELECT 'https://' || p.domains[1 + ix] || '/' || to_char(published, 'YYYY/MM/DD') || '/'
                     || replace(array_to_string((string_to_array(title, ' '))[1:4], '-'), ' ', '-')
                     || '-' || (p.s0 + j) AS url) AS u
"""

LOCK = f"LOCK TABLE {', '.join(GEN_TABLES)}, topic IN SHARE ROW EXCLUSIVE MODE"
MAX_IDS = """
SELECT (SELECT coalesce(max(id), 0) FROM entity) AS entity, (SELECT coalesce(max(id), 0) FROM source) AS source,
       (SELECT coalesce(max(id), 0) FROM claim) AS claim
"""
IS_SUPERUSER = "SELECT current_setting('is_superuser') = 'on'"
REPLICA = "SET LOCAL session_replication_role = replica"
# No time limit for these long statements; no JIT, whose compile of these large expressions costs
# more than it saves (a second per statement, most of the run at small sizes).
NO_TIMEOUT = "SET LOCAL statement_timeout = 0; SET LOCAL jit = off"
LONG_S = 24 * 3600.0
# The steps of a run, in order, as `generate_corpus` reports them to its progress callback.
PHASES = (
    "entities",
    "sources",
    "claims",
    "claim_speakers",
    "appearances",
    "mentions",
    "claim_topics",
    "indexes",
    "vacuum_analyze",
)
Progress = Callable[[str, "int | None"], None]
EXISTING_OUTLETS = """
SELECT DISTINCT ON (name_norm) name_norm, id FROM entity
WHERE kind = 'organization' AND merged_into IS NULL AND name_norm = ANY($1::text[])
ORDER BY name_norm, id
"""
ADD_TOPICS = """
INSERT INTO topic (slug, name) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (slug) DO NOTHING
"""
TOPIC_IDS = "SELECT id FROM topic WHERE slug = ANY($1::text[]) ORDER BY slug"
MOVE_SEQUENCE = "SELECT setval(pg_get_serial_sequence($1, 'id'), greatest((SELECT max(id) FROM {table}), 1))"
COUNT_ROWS = "SELECT count(*) FROM {table}"
# Plain (non-constraint) indexes of the tables written: dropped and rebuilt when a run at least
# doubles the data, which is faster than maintaining them row by row.
SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
WHERE i.indrelid = ANY($1::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""
DROP_INDEX = "DROP INDEX {name}"
# Unique constraints no foreign key hangs on (claim.fingerprint, source.key, source.url): checked
# again, all at once, when they are added back. The appearance's stays: its insert relies on it.
UNIQUE_CONSTRAINTS = """
SELECT c.conrelid::regclass::text AS tbl, quote_ident(c.conname) AS name, pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
WHERE c.conrelid = ANY($1::regclass[]) AND c.contype = 'u' AND c.conrelid <> 'appearance'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)
ORDER BY 1, 2
"""
DROP_CONSTRAINT = "ALTER TABLE {tbl} DROP CONSTRAINT {name}"
ADD_CONSTRAINT = "ALTER TABLE {tbl} ADD CONSTRAINT {name} {definition}"
BUILD_MEMORY = "SET LOCAL maintenance_work_mem = '512MB'"
# The visibility map too, not only statistics: index-only scans on fresh rows need it.
VACUUM = "VACUUM (ANALYZE) {table}"


@dataclass(frozen=True)
class Person:
    """A generated person: ``Person(7, "Anna K. Schmidt", ["Anna Schmidt"], "minister")``."""

    id: int
    name: str
    aliases: list[str]
    description: str


def person(i: int, entity_id: int, seed: int) -> Person:
    """The i-th person of a run: a first name, a middle initial and a last name, spread by the seed.

    >>> person(0, 10, 1).name
    'Søren O. Fischer'
    """
    combos = len(FIRST_NAMES) * 26 * len(LAST_NAMES)
    m = (i * 7919 + seed * 104729) % combos
    first = FIRST_NAMES[m % len(FIRST_NAMES)]
    initial = chr(ord("A") + (m // len(FIRST_NAMES)) % 26)
    last = LAST_NAMES[m // (len(FIRST_NAMES) * 26)]
    suffix = f" {i // combos + 1}" if i >= combos else ""
    name = f"{first} {initial}. {last}{suffix}"
    return Person(entity_id, name, [f"{first} {last}{suffix}"], TITLES[(i * 31 + seed) % len(TITLES)])


def outlet(i: int) -> tuple[str, list[str], str]:
    """The i-th outlet: name, aliases and web domain.

    >>> outlet(0)
    ('The Morning Herald', ['Morning Herald', 'morningherald.example'], 'morningherald.example')
    """
    adjective = OUTLET_ADJECTIVES[i % len(OUTLET_ADJECTIVES)]
    noun = OUTLET_NOUNS[(i // len(OUTLET_ADJECTIVES)) % len(OUTLET_NOUNS)]
    edition = f" {i // (len(OUTLET_ADJECTIVES) * len(OUTLET_NOUNS)) + 1}" if i >= 200 else ""
    short = f"{adjective} {noun}{edition}"
    domain = slugify(short).replace("-", "") + ".example"
    return f"The {short}", [short, domain], domain


def _alias_rows(entity_id: int, names: list[str]) -> list[tuple[int, str, str]]:
    """``entity_alias`` rows for these names, one per distinct normalised form."""
    rows: dict[str, tuple[int, str, str]] = {}
    for name in names:
        rows.setdefault(name_norm(name), (entity_id, name, name_norm(name)))
    return list(rows.values())


Rows = list[tuple[Any, ...]]


async def _outlets(tx: Traced, next_id: int) -> tuple[list[int], list[str], Rows, Rows]:
    """Publisher ids and domains (existing outlets of an earlier run reused), and the rows to add."""
    specs = [outlet(i) for i in range(PUBLISHERS)]
    norms = [name_norm(name) for name, _, _ in specs]
    known = {r["name_norm"]: int(r["id"]) for r in await tx.fetch(EXISTING_OUTLETS, norms)}
    ids: list[int] = []
    entities: Rows = []
    aliases: Rows = []
    for (name, alias_names, _), norm in zip(specs, norms, strict=True):
        if norm in known:
            ids.append(known[norm])
            continue
        next_id += 1
        ids.append(next_id)
        entities.append((next_id, "organization", name, norm, "News outlet"))
        aliases.extend(_alias_rows(next_id, [name, *alias_names]))
    return ids, [domain for _, _, domain in specs], entities, aliases


async def _copy(tx: Traced, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        await tx.conn.copy_records_to_table(table, records=rows, columns=columns)


async def _long(conn: Connection, sql: str, *args: Any) -> str:
    """One long statement: the pool's client-side command timeout (seconds) is for API requests."""
    return await conn.execute(sql, *args, timeout=LONG_S)


async def _timed(tx: Traced, timings: dict[str, float], name: str, sql: str, progress: Progress) -> int:
    progress(name, None)
    started = time.monotonic()
    status = await _long(tx.conn, sql)
    timings[name] = round(time.monotonic() - started, 2)
    log.debug("generate: %s %s (%.1f s)", name, status, timings[name])
    rows = int(status.rsplit(" ", 1)[-1])
    progress(name, rows)
    return rows


def _quiet(phase: str, rows: int | None) -> None:
    """The progress callback that reports nothing."""


async def _drop_indexes(tx: Traced) -> list[str]:
    """Drop the secondary indexes and free unique constraints of the generated tables.

    Returns the statements that build them again (after the rows are in: one sort per index instead
    of a million random insertions into it).
    """
    rebuild = []
    for row in await tx.fetch(SECONDARY_INDEXES, list(GEN_TABLES)):
        await tx.execute(DROP_INDEX.format(name=row["name"]))
        rebuild.append(str(row["definition"]))
    for row in await tx.fetch(UNIQUE_CONSTRAINTS, list(GEN_TABLES)):
        await tx.execute(DROP_CONSTRAINT.format(**row))
        rebuild.append(ADD_CONSTRAINT.format(**row))
    return rebuild


@dataclass(frozen=True)
class Entities:
    """The run's outlets (ids and web domains, in `outlet` order) and where its people start."""

    publishers: list[int]
    domains: list[str]
    first_person: int
    added: int
    aliases: int


async def _add_entities(tx: Traced, e0: int, n_persons: int, seed: int) -> Entities:
    """COPY the outlets a previous run did not make and ``n_persons`` people, with their aliases."""
    publishers, domains, outlet_rows, outlet_aliases = await _outlets(tx, e0)
    first = e0 + len(outlet_rows) + 1
    people = [person(i, first + i, seed) for i in range(n_persons)]
    person_rows = [(p.id, "person", p.name, name_norm(p.name), p.description) for p in people]
    await _copy(tx, "entity", ["id", "kind", "name", "name_norm", "description"], outlet_rows + person_rows)
    alias_rows = outlet_aliases + [row for p in people for row in _alias_rows(p.id, [p.name, *p.aliases])]
    await _copy(tx, "entity_alias", ["entity_id", "alias", "norm"], alias_rows)
    return Entities(publishers, domains, first, len(outlet_rows) + len(person_rows), len(alias_rows))


def _window(now: datetime) -> tuple[datetime, float]:
    """Ten years up to yesterday: claims are never said in the future."""
    end = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=1)
    start = end.replace(year=end.year - YEARS) if not (end.month == 2 and end.day == 29) else end - timedelta(3652)
    return start, (end - start).total_seconds() - 1


async def _generate(tx: Traced, n_claims: int, seed: int, progress: Progress) -> dict[str, Any]:
    timings: dict[str, float] = {}
    replica = bool(await tx.fetchval(IS_SUPERUSER))
    if replica:
        await tx.execute(REPLICA)
    await tx.execute(NO_TIMEOUT)
    await tx.execute(LOCK)
    ids = await tx.fetchrow(MAX_IDS)
    assert ids is not None
    e0, s0, c0 = int(ids["entity"]), int(ids["source"]), int(ids["claim"])
    dropped = await _drop_indexes(tx) if c0 < n_claims else []
    started = time.monotonic()
    n_persons = max(20, n_claims // 50)
    progress("entities", None)
    entities = await _add_entities(tx, e0, n_persons, seed)
    timings["entities"] = round(time.monotonic() - started, 2)
    progress("entities", entities.added + entities.aliases)
    publishers, domains, p0 = entities.publishers, entities.domains, entities.first_person - 1
    slugs = [slugify(t) for t in TOPICS]
    await tx.execute(ADD_TOPICS, slugs, list(TOPICS))
    topic_ids = [int(r["id"]) for r in await tx.fetch(TOPIC_IDS, slugs)]
    t0, span = _window(datetime.now(UTC))
    n_src = max(1, n_claims // 2)
    publisher_langs = [LANGUAGES[i % len(LANGUAGES)] if i % 3 == 0 else "en" for i in range(len(publishers))]
    params = [seed, n_claims, c0, s0, n_src, p0, n_persons, publishers, domains, WORD_LIST, topic_ids, t0, span]
    await tx.execute(PARAMS, *params, LANGUAGES, publisher_langs)
    await tx.execute("ANALYZE gen_params")
    counts = {
        "entities": entities.added,
        "entity_aliases": entities.aliases,
        "sources": await _timed(tx, timings, "sources", INSERT_SOURCES, progress),
        "claims": await _timed(tx, timings, "claims", INSERT_CLAIMS, progress),
        "claim_speakers": await _timed(tx, timings, "claim_speakers", INSERT_SPEAKERS, progress),
        "appearances": await _timed(tx, timings, "appearances", INSERT_APPEARANCES, progress),
        "mentions": await _timed(tx, timings, "mentions", INSERT_MENTIONS, progress),
        "claim_topics": await _timed(tx, timings, "claim_topics", INSERT_TOPICS, progress),
    }
    for table in ("entity", "source", "claim"):
        await tx.fetchval(MOVE_SEQUENCE.format(table=table), table)
    progress("indexes", None)
    if dropped:
        started = time.monotonic()
        await tx.execute(BUILD_MEMORY)
        for definition in dropped:
            await _long(tx.conn, definition)
        timings["indexes"] = round(time.monotonic() - started, 2)
    progress("indexes", len(dropped))
    return {
        "added": counts,
        "first_ids": {"entity": e0 + 1, "source": s0 + 1, "claim": c0 + 1},
        "triggers": "replica (constraints kept by construction)" if replica else "on",
        "seconds": timings,
    }


async def generate_corpus(db: Database, n_claims: int, seed: int = 1, *, progress: Progress = _quiet) -> dict[str, Any]:
    """Add ``n_claims`` synthetic claims with their people, outlets, articles and links; returns stats.

    One transaction (all or nothing), then VACUUM (ANALYZE) so the planner sees the new sizes and
    index-only scans work on the new rows. The returned
    dict holds the rows added per table, the first new ids, the time per step and the totals.
    ``progress(phase, None)`` is called as each of `PHASES` starts, ``progress(phase, rows)`` as it
    ends (rows written; for indexes the indexes built, for vacuum_analyze the tables).
    """
    if not 1 <= n_claims <= MAX_CLAIMS:
        raise ValueError(f"n_claims must be between 1 and {MAX_CLAIMS}")
    started = time.monotonic()
    async with db.transaction() as tx:
        stats = await _generate(tx, n_claims, seed, progress)
    analyzed = time.monotonic()
    progress("vacuum_analyze", None)
    async with db.acquire() as conn:
        # VACUUM cannot run in a transaction, so no SET LOCAL: set and reset the session's timeout.
        await conn.execute("SET statement_timeout = 0")
        try:
            for table in GEN_TABLES:
                await _long(conn, VACUUM.format(table=table))
        finally:
            await conn.execute("RESET statement_timeout")
    stats["seconds"]["vacuum_analyze"] = round(time.monotonic() - analyzed, 2)
    progress("vacuum_analyze", len(GEN_TABLES))
    stats["seconds"]["total"] = round(time.monotonic() - started, 2)
    stats["totals"] = {t: int(await db.fetchval(COUNT_ROWS.format(table=t))) for t in GEN_TABLES}
    return stats
