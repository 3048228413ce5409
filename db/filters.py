"""Claim filters and keyset pages, shared by REST `GET /v1/claims` and GraphQL `claims(filter:)`.

`page_sql` returns a statement yielding ``(id, sort_key)`` rows in page order; the REST and
GraphQL layers wrap it to build their JSON in PostgreSQL. Criteria are AND-ed; the values inside
one criterion are OR-ed. Dates are half-open: ``said_after`` is inclusive, ``said_before``
exclusive, so adjacent ranges never overlap.

The driving table is chosen for the index it can walk in order: a single speaker, mention or
topic walks that link table's ``(entity_id, said_key, claim_id)`` index, so a page costs the same
at any depth; everything else walks ``claim (said_key, id)`` and checks the other criteria.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from db.normalize import fold

Sort = Literal["-said_at", "said_at", "-reported_at", "relevance"]
SORTS: tuple[Sort, ...] = ("-said_at", "said_at", "-reported_at", "relevance")


REAL_MAX = 3.4e38  # ranks are PostgreSQL `real`s
ISSUED_RANK = re.compile(r"\A-?\d+(\.\d+)?(e[+-]?\d+)?\Z")  # PostgreSQL's real as text
ISSUED_MOMENT = re.compile(r"\A\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}\Z")


class CursorError(ValueError):
    """A cursor that this API did not issue for this ordering (forged, tampered or stale)."""


@dataclass(frozen=True)
class ClaimFilter:
    """Which claims: each field narrows the set; an empty field does not filter."""

    speakers: tuple[int, ...] = ()
    mentions: tuple[int, ...] = ()
    topics: tuple[str, ...] = ()
    sources: tuple[int, ...] = ()
    reported_by: tuple[int, ...] = ()
    said_after: datetime | None = None
    said_before: datetime | None = None
    reported_after: datetime | None = None
    reported_before: datetime | None = None
    kinds: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    review_states: tuple[str, ...] = ()
    q: str | None = None


@dataclass
class Params:
    """Collects bound parameters and hands out their ``$n`` placeholders."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{cast}"

    def add_key(self, key: Any, cast: str) -> str:
        """A cursor's sort key: text from a cursor is cast in SQL (``'-infinity'`` included)."""
        return self.add(key, f"::text{cast}" if isinstance(key, str) else cast)

    @staticmethod
    def int_literal(value: int) -> str:
        """A page size written into the SQL: with ``LIMIT $n`` the planner cannot use a cached
        generic plan (it guesses 10 % of the table), so it re-plans every execution."""
        return str(int(value))


@dataclass(frozen=True)
class Cursor:
    """A position in one ordering: the sort key (as PostgreSQL text) and the claim id."""

    sort: str
    key: str
    id: int

    def encode(self) -> str:
        """``base64url("<sort>|<key>|<id>")`` without padding — also built in SQL by `cursor_sql`."""
        raw = f"{self.sort}|{self.key}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, sort: str) -> Cursor:
        """Parse a cursor issued for ``sort``; anything else raises `CursorError`."""
        try:
            if len(text) > 200:
                raise ValueError("too long")
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            s, key, ident_text = raw.split("|")
            if not (ident_text.isascii() and ident_text.isdigit()):
                raise ValueError("bad id")
            ident = int(ident_text)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise CursorError("the cursor is not one this API issued") from exc
        if s != sort:
            raise CursorError(f"the cursor belongs to another ordering ({s!r}), not {sort!r}")
        if not (1 <= ident < 2**63) or len(key) > 64:
            raise CursorError("the cursor is not one this API issued")
        cls._check_key(key, sort)
        return cls(s, key, ident)

    @staticmethod
    def _check_key(key: str, sort: str) -> None:
        if sort == "entities":
            if not (key.isascii() and key.isdigit()):
                raise CursorError("the cursor is not one this API issued")
            return
        if sort in ("relevance", "entities-rank"):
            # issued as PostgreSQL prints a real, and within what a real can hold
            if not ISSUED_RANK.match(key) or not abs(float(key)) <= REAL_MAX:
                raise CursorError("the cursor is not one this API issued")
            return
        if key in ("-infinity", "infinity"):
            return
        if not ISSUED_MOMENT.match(key):  # PostgreSQL's timestamptz text, as the cursor was issued
            raise CursorError("the cursor is not one this API issued")
        try:
            moment = datetime.fromisoformat(key)
            if moment.tzinfo is not None:
                moment.astimezone(UTC)  # year 9999 at -12:00 is past what can be bound
        except (ValueError, OverflowError) as exc:
            raise CursorError("the cursor is not one this API issued") from exc


def cursor_sql(sort: str, key_sql: str, id_sql: str) -> str:
    """SQL computing `Cursor(sort, key, id).encode()` for each row (PostgreSQL's base64 wraps at 76).

    ``replace()`` for the base64url alphabet, not ``translate()``, which is several times slower
    per row, and a page builds one cursor per row.
    """
    text = f"'{sort}|' || {key_sql} || '|' || {id_sql}"
    b64 = f"encode(convert_to({text}, 'UTF8'), 'base64')"
    return f"rtrim(replace(replace(replace({b64}, E'\\n', ''), '+', '-'), '/', '_'), '=')"


# A "-" before no word negates nothing, but PostgreSQL still stacks it: 33 in a row (or "-(-(-(…")
# make websearch_to_tsquery fail with "tsquery stack too small".
_DANGLING_NOT = re.compile(r"-(?!\w)")


def tsquery_text(q: str) -> str:
    """Search-box text for `websearch_to_tsquery`: accents folded so 'Zelenskyy' matches 'Zelenskyy',
    and minus signs that negate no word dropped (``"a - b --"`` → ``"a   b   "``)."""
    return _DANGLING_NOT.sub(" ", fold(q)[:500])


def _exists(table: str, column: str, placeholder: str) -> str:
    return f"EXISTS (SELECT 1 FROM {table} x WHERE x.claim_id = c.id AND x.{column} = ANY({placeholder}))"


def _criteria(f: ClaimFilter, p: Params, skip: str | None) -> list[str]:
    out = ["c.deleted_at IS NULL"]
    if f.speakers and skip != "speaker":
        out.append(_exists("claim_speaker", "entity_id", p.add(list(f.speakers), "::bigint[]")))
    if f.mentions and skip != "mention":
        out.append(_exists("mention", "entity_id", p.add(list(f.mentions), "::bigint[]")))
    if f.topics and skip != "topic":
        out.append(
            "EXISTS (SELECT 1 FROM claim_topic x JOIN topic t ON t.id = x.topic_id "
            f"WHERE x.claim_id = c.id AND t.slug = ANY({p.add(list(f.topics), '::text[]')}))"
        )
    if f.sources:
        out.append(_exists("appearance", "source_id", p.add(list(f.sources), "::bigint[]")))
    if f.reported_by or f.reported_after or f.reported_before:
        conds = ["x.claim_id = c.id"]
        if f.reported_by:
            conds.append(f"s.publisher_id = ANY({p.add(list(f.reported_by), '::bigint[]')})")
        if f.reported_after:
            conds.append(f"s.published_at >= {p.add(f.reported_after, '::timestamptz')}")
        if f.reported_before:
            conds.append(f"s.published_at < {p.add(f.reported_before, '::timestamptz')}")
        out.append(
            "EXISTS (SELECT 1 FROM appearance x JOIN source s ON s.id = x.source_id WHERE " + " AND ".join(conds) + ")"
        )
    if f.said_after:
        out.append(f"c.said_at >= {p.add(f.said_after, '::timestamptz')}")
    if f.said_before:
        out.append(f"c.said_at < {p.add(f.said_before, '::timestamptz')}")
    if f.kinds:
        out.append(f"c.kind = ANY({p.add(list(f.kinds), '::text[]')})")
    if f.languages:
        out.append(f"c.language = ANY({p.add(list(f.languages), '::text[]')})")
    if f.review_states:
        out.append(f"c.review_state = ANY({p.add(list(f.review_states), '::text[]')})")
    if f.q:
        out.append(f"c.search @@ websearch_to_tsquery('english', {p.add(tsquery_text(f.q))})")
    return out


# scope kind → (link table, its column, whether it carries said_key for index-ordered walks)
SCOPES = {
    "speaker": ("claim_speaker", "entity_id", True),
    "mention": ("mention", "entity_id", True),
    "topic": ("claim_topic", "topic_id", True),
    "source": ("appearance", "source_id", False),
}


# A date-ordered text search sorts all its matches when there are at most this many (`page_sql`).
SEARCH_FEW_HITS = 1000


def page_sql(
    f: ClaimFilter,
    p: Params,
    *,
    sort: Sort = "-said_at",
    after: Cursor | None = None,
    limit: int = 20,
    backward: bool = False,
    scope: tuple[str, str] | None = None,
    few_hits: int | None = None,
    tid: bool = False,
) -> str:
    """SQL for one page: rows ``(id bigint, sort_key text)`` in page order, at most ``limit`` of them.

    ``tid`` adds each claim's ``ctid`` as column ``tid``: the statement that turns the page into
    JSON fetches the rows by it (a TID scan, one buffer) instead of descending ``claim``'s primary
    key again. The page and that statement share one snapshot, so the row version is the page's.

    ``scope`` = (kind, SQL expression) restricts to one entity's, topic's or source's claims — a
    bound parameter, or a column of an outer query for nested GraphQL connections. ``backward``
    walks the ordering in reverse from ``after`` (GraphQL's ``last``/``before``); the caller
    reverses the rows back.
    """
    if sort == "relevance" and not f.q:
        raise ValueError("sort=relevance needs a text query")
    few_hits = SEARCH_FEW_HITS if few_hits is None else few_hits
    descending = sort != "said_at"
    if backward:
        descending = not descending
    direction = "DESC" if descending else "ASC"
    compare = "<" if descending else ">"

    skip = None
    if scope is None and sort in ("-said_at", "said_at"):
        if len(f.speakers) == 1:
            scope, skip = ("speaker", p.add(f.speakers[0], "::bigint")), "speaker"
        elif len(f.mentions) == 1:
            scope, skip = ("mention", p.add(f.mentions[0], "::bigint")), "mention"
    conds = _criteria(f, p, skip)

    if sort in ("-said_at", "said_at"):
        key_expr, cast = "c.said_key", "::timestamptz"
    elif sort == "-reported_at":
        key_expr, cast = "c.reported_key", "::timestamptz"
    else:
        # the tsquery as a sub-select: built once per statement, not once per ranked row (graph.search_sql)
        tsq = f"(SELECT websearch_to_tsquery('english', {p.add(tsquery_text(f.q or ''))}))"
        key_expr = f"ts_rank(c.search, {tsq})::real"
        cast = "::real"

    drive, order_key, order_id = "claim c", key_expr, "c.id"
    if scope is not None:
        table, column, keyed = SCOPES[scope[0]]
        drive = f"{table} l JOIN claim c ON c.id = l.claim_id"
        conds.insert(0, f"l.{column} = {scope[1]}")
        if keyed and sort in ("-said_at", "said_at"):
            order_key, order_id = "l.said_key", "l.claim_id"

    if sort in ("-said_at", "said_at"):
        # Bound the walked index's own key too, so a date range is one index range scan (the
        # ``said_at`` conditions stay: they also keep out claims with no date).
        if f.said_after:
            conds.append(f"{order_key} >= {p.add(f.said_after, '::timestamptz')}")
        if f.said_before:
            conds.append(f"{order_key} < {p.add(f.said_before, '::timestamptz')}")
    if after is not None:
        conds.append(
            f"({order_key}, {order_id}) {compare} ({p.add_key(after.key, cast)}, {p.add(after.id, '::bigint')})"
        )
    where = " AND ".join(conds)
    order = f"ORDER BY {order_key} {direction}, {order_id} {direction} LIMIT {p.int_literal(limit)}"
    row = ", c.ctid AS tid" if tid else ""
    if not f.q or sort == "relevance":
        return f"SELECT {order_id} AS id, {order_key}::text AS sort_key{row} FROM {drive} WHERE {where} {order}"
    # A text search in date order. Walking the date index and testing each claim finds a common
    # word's page in a few hundred rows, but a rare one's only after thousands, and a word no claim
    # holds only at the end of the index (1,000,000 claims: 10 s, past the statement timeout). The
    # planner cannot tell them apart (a word outside its statistics is guessed at 0.5 % of rows), so
    # the statement looks first: up to SEARCH_FEW_HITS matches from the full-text index; when that
    # is all of them, the page is sorted from those, else the date index is walked as before. One
    # branch runs (the other's one-time filter is false); the outcome is the same either way.
    few = p.int_literal(few_hits)
    hits = (
        f"SELECT h.id FROM claim h WHERE h.search @@ websearch_to_tsquery('english', {p.add(tsquery_text(f.q))}) "
        f"LIMIT {few} + 1"
    )
    select = f"SELECT {order_id} AS id, {order_key} AS k{row} FROM {drive}"
    return (
        f"WITH hits AS MATERIALIZED ({hits}) SELECT id, k::text AS sort_key{', tid' if tid else ''} FROM ("
        f"({select} WHERE (SELECT count(*) FROM hits) <= {few} AND c.id IN (SELECT id FROM hits) AND {where} {order}) "
        f"UNION ALL ({select} WHERE (SELECT count(*) FROM hits) > {few} AND {where} {order})"
        f") u ORDER BY k {direction}, id {direction}"
    )


def count_sql(f: ClaimFilter, p: Params, scope: tuple[str, str] | None = None) -> str:
    """SQL counting every claim the filter matches (GraphQL ``totalCount``)."""
    conds = _criteria(f, p, None)
    if scope is None:
        return f"SELECT count(*) FROM claim c WHERE {' AND '.join(conds)}"
    table, column, _ = SCOPES[scope[0]]
    conds.insert(0, f"l.{column} = {scope[1]}")
    return f"SELECT count(*) FROM {table} l JOIN claim c ON c.id = l.claim_id WHERE {' AND '.join(conds)}"


SOURCE_KEY = "coalesce(s.published_at, '-infinity'::timestamptz)"


def source_conditions(
    p: Params, publisher: int | None, published_after: datetime | None, published_before: datetime | None
) -> list[str]:
    """Conditions on ``source s`` for the source lists (REST ``/v1/sources``, GraphQL ``sources``)."""
    conds = ["TRUE"]
    if publisher is not None:
        conds.append(f"s.publisher_id = {p.add(publisher, '::bigint')}")
    if published_after is not None:
        conds.append(f"s.published_at >= {p.add(published_after, '::timestamptz')}")
    if published_before is not None:
        conds.append(f"s.published_at < {p.add(published_before, '::timestamptz')}")
    return conds
