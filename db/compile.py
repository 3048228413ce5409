"""Compile a GraphQL selection plan into ONE SQL statement that returns the response JSON.

The API layer parses and validates the operation (Strawberry / graphql-core), interprets its
arguments, and hands over a tree of `Sel`; this module turns it into SQL that writes the JSON as
text: objects as ``'{"id" : ' || … || '}'``, lists as ``string_agg``, values through ``to_json``
— byte for byte what ``json_build_object``/``json_agg`` write, without their per-row look-up of
the type of every key and value (see `Json`). PostgreSQL builds the whole document and the bytes
go to the socket untouched. List orderings are the ones the ordinary resolvers use
(db/graph.py), so both paths give the same answer.

A nested to-many list is a correlated subquery on its index (``WHERE claim_id = c.id``); a
nested connection is a correlated keyset page (db/filters.py). Nothing here depends on page size:
one statement, whatever the nesting. Aggregating each level for all parents at once (``GROUP BY
claim_id``) is no quicker for the feed and takes more code, so lists stay correlated.

The outermost levels are not nested, though: the statement returns one text column per root
field (and per member of a root connection: its edges, its pageInfo), and `Statement.document`
writes the JSON around them. Each level of nesting copies everything inside it again, so for a
large document like the feed the outermost copies of the whole of it are worth leaving to Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from db import graph
from db.filters import ClaimFilter, Cursor, Params, Sort, count_sql, cursor_sql, page_sql


class NotCompilable(Exception):
    """The plan uses something the compiler does not handle; run it the ordinary way."""


@dataclass
class Window:
    """A Relay page: how many, after which cursor, which way."""

    size: int
    cursor: Cursor | None
    backward: bool = False


@dataclass
class Sel:
    """One selected field: response key, field name, interpreted arguments, sub-selections.

    ``fields`` is the sub-selection of an object-typed field; ``by_type`` the sub-selection per
    concrete type of an interface- or union-typed one.
    """

    key: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    fields: list[Sel] = field(default_factory=list)
    by_type: dict[str, list[Sel]] = field(default_factory=dict)
    # Set by the planner on a subtree without arguments, shared by every request of its document:
    # its SQL depends only on where it sits, so `Compiler.obj` remembers it per place.
    fixed: bool = False
    sql: dict[tuple[str, str], str] = field(default_factory=dict, repr=False, compare=False)


C = '"C"'  # byte-order collation: the same list order on every server


class Statement(NamedTuple):
    """A compiled query: SQL returning one row of JSON texts, its parameters, and the JSON around
    them — ``pieces[0] + column 0 + pieces[1] + … + pieces[-1]`` is the response document.

    Each column leaves PostgreSQL as ``bytea`` of its UTF-8 text (``convert_to``), so asyncpg hands
    over the bytes as they came off the wire: as ``text`` they would be decoded into a ``str`` only
    to be encoded back for the socket, while PostgreSQL's side costs the same either way."""

    sql: str
    params: list[Any]
    pieces: tuple[bytes, ...]

    def document(self, row: Sequence[bytes | None]) -> bytes:
        """The response document from the statement's row (a NULL column is JSON ``null``)."""
        pieces = self.pieces
        out = [pieces[0]]
        for i, value in enumerate(row):
            out.append(b"null" if value is None else value)
            out.append(pieces[i + 1])
        return b"".join(out)


@dataclass
class Flat:
    """A root connection written as members of the statement's row instead of one JSON value:
    its page as a common table expression, and per member its key and the SQL of its JSON text."""

    ctes: list[str] = field(default_factory=list)
    members: list[tuple[str, str]] = field(default_factory=list)


class Json(str):
    """SQL of an expression whose value is JSON text already (or NULL, which is JSON ``null``).

    Objects and lists are written by concatenating text — ``'{"id" : ' || … || '}'`` — not with
    ``json_build_object``/``json_agg``, which look up the type of every key and value on every row
    and copy each nested value again. A field's value is either
    such a `Json` expression or a plain SQL value, which `_value` turns into JSON with ``to_json``.
    The long texts — a claim's content, an entity's name, a source's title and URL, a quote — are
    read already escaped, from the ``*_json`` columns PostgreSQL keeps beside them
    (db/migrations/0003_escaped_text.sql), so they are escaped once on write, not on every read.
    """


def gid(type_name: str, id_sql: str) -> Json:
    """SQL for a Relay global id (base64 of ``Type:id``, as `to_global_id` computes it) as a JSON
    string: base64 needs no escaping, and ``Type:id`` is far too short for PostgreSQL's line
    break at 76 characters, so quotes around it are what ``to_json`` would write, without a
    function call for each id of a page."""
    return _quoted(f"encode(convert_to('{type_name}:' || {id_sql}, 'UTF8'), 'base64')")


def _quoted(sql: str) -> Json:
    """A JSON string of ``sql``'s text, for text that needs no escaping (base64 and base64url)."""
    return Json(f"'\"' || {sql} || '\"'")


def _enum(column_sql: str) -> Json:
    """A GraphQL enum's JSON from its column: the value upper-cased. The columns' CHECK constraints
    (db/migrations) allow only lower-case letters and ``_``, so it needs no escaping either."""
    return _quoted(f"upper({column_sql})")


_TYPE_NAME = re.compile(r"'([A-Za-z]+)'")


def _value(sql: str) -> str:
    """SQL of a field's value as JSON text, never NULL (``null`` instead)."""
    if isinstance(sql, Json):
        return f"coalesce({sql}, 'null')"
    name = _TYPE_NAME.fullmatch(sql)
    if name is not None:  # a __typename: its JSON is known now
        return f"'\"{name[1]}\"'"
    return f"coalesce(to_json({sql})::text, 'null')"


def _agg(item: str, order: str) -> Json:
    """A JSON array of ``item`` over the rows of the enclosing ``SELECT``, in ``order``; ``[]`` for none."""
    return Json(f"coalesce('[' || string_agg({_value(item)}, ', ' ORDER BY {order}) || ']', '[]')")


def _text(*parts: str) -> str:
    """SQL concatenating literal text and SQL of JSON text: ``parts`` alternate, literals first."""
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            if part:
                out.append("'" + part.replace("'", "''") + "'")
        else:
            out.append(part)
    return " || ".join(out)


class Compiler:
    """Builds one statement; ``params`` collects its bound values."""

    MAX_KEYS = 50  # fields in one selection

    def __init__(self) -> None:
        self.p = Params()
        self.n = 0

    def alias(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # -- objects ---------------------------------------------------------------------------

    def obj(self, sels: list[Sel], column: Callable[[Sel], str], place: str = "") -> Json:
        """The JSON object of the columns, as ``json_build_object`` writes it; ``place`` (the builder
        and the alias of the row it reads, e.g. ``"claim c3"``) lets the SQL of a fixed field be reused.

        A fixed field's SQL refers to no alias of the statement but ``place``'s own, and the aliases
        it makes inside were numbered after that one, so reusing it never captures another row;
        it binds no parameter (checked: one that does is simply not remembered).
        """
        if len(sels) > self.MAX_KEYS:
            raise NotCompilable("too many fields in one selection")
        if not sels:
            return Json("'{}'")
        parts: list[str] = []
        for s in sels:
            if s.fixed and place:
                key = (place, s.name)
                sql = s.sql.get(key)
                if sql is None:
                    bound = len(self.p.values)
                    sql = column(s)
                    if len(self.p.values) == bound:
                        if len(s.sql) >= 32:  # places vary with what precedes; keep a few
                            s.sql.clear()
                        s.sql[key] = sql
            else:
                sql = column(s)
            parts += [("{" if not parts else ", ") + f'"{s.key}" : ', _value(sql)]
        return Json(_text(*parts, "}"))

    def claim(self, sels: list[Sel], c: str) -> Json:
        def column(s: Sel) -> str:
            match s.name:
                case "__typename":
                    return "'Claim'"
                case "id":
                    return gid("Claim", f"{c}.id")
                case "databaseId":
                    return f"{c}.id"
                case "content":
                    return Json(f"{c}.content_json")
                case "language":
                    return f"{c}.language"
                case "kind":
                    return _enum(f"{c}.kind")
                case "saidAt":
                    return f"{c}.said_at"
                case "saidAtPrecision":
                    return _enum(f"{c}.said_at_precision")
                case "firstReportedAt":
                    return f"{c}.first_reported_at"
                case "speakers":
                    cs = self.alias("cs")
                    inner = self.speaker(s.fields, cs)
                    order = graph.ORDER_SPEAKERS.replace("cs.", f"{cs}.")
                    return Json(f"(SELECT {_agg(inner, order)} FROM claim_speaker {cs} WHERE {cs}.claim_id = {c}.id)")
                case "appearances":
                    a = self.alias("a")
                    inner = self.appearance(s.fields, a)
                    return Json(f"(SELECT {_agg(inner, f'{a}.id')} FROM appearance {a} WHERE {a}.claim_id = {c}.id)")
                case "location":
                    return self.entity_by(s.fields, f"{c}.location_id")
                case "mentions":
                    m, e = self.alias("m"), self.alias("e")
                    inner = self.entity(s.fields, e)
                    return Json(
                        f"(SELECT {_agg(inner, f'{m}.entity_id')} FROM mention {m} "
                        f"JOIN entity {e} ON {e}.id = {m}.entity_id WHERE {m}.claim_id = {c}.id)"
                    )
                case "topics":
                    ct, t = self.alias("ct"), self.alias("t")
                    inner = self.topic(s.fields, t)
                    return Json(
                        f"(SELECT {_agg(inner, t + '.slug COLLATE ' + C)} FROM claim_topic {ct} "
                        f"JOIN topic {t} ON {t}.id = {ct}.topic_id WHERE {ct}.claim_id = {c}.id)"
                    )
                case "relatedClaims":
                    r, rc = self.alias("r"), self.alias("rc")
                    inner = self.obj(s.fields, lambda x: self.related(x, r, rc))
                    return Json(
                        f"(SELECT {_agg(inner, f'{r}.kind, {r}.related_claim_id')} FROM claim_relation {r} "
                        f"JOIN claim {rc} ON {rc}.id = {r}.related_claim_id AND {rc}.deleted_at IS NULL "
                        f"WHERE {r}.claim_id = {c}.id)"
                    )
            raise NotCompilable(f"Claim.{s.name}")

        return self.obj(sels, column, f"claim {c}")

    def related(self, s: Sel, r: str, rc: str) -> str:
        match s.name:
            case "__typename":
                return "'RelatedClaim'"
            case "kind":
                return _enum(f"{r}.kind")
            case "claim":
                return self.claim(s.fields, rc)
        raise NotCompilable(f"RelatedClaim.{s.name}")

    def speaker(self, sels: list[Sel], cs: str) -> Json:
        def column(s: Sel) -> str:
            match s.name:
                case "__typename":
                    return "'ClaimSpeaker'"
                case "role":
                    return _enum(f"{cs}.role")
                case "position":
                    return f"{cs}.position"
                case "entity":
                    return self.entity_by(s.fields, f"{cs}.entity_id")
            raise NotCompilable(f"ClaimSpeaker.{s.name}")

        return self.obj(sels, column, f"speaker {cs}")

    def appearance(self, sels: list[Sel], a: str) -> Json:
        def column(s: Sel) -> str:
            match s.name:
                case "__typename":
                    return "'Appearance'"
                case "id":
                    return gid("Appearance", f"{a}.id")
                case "quote":
                    return Json(f"{a}.quote_json")
                case "span":
                    span = self.obj(
                        s.fields,
                        lambda x: {
                            "start": f"{a}.span_start",
                            "end": f"{a}.span_end",
                            "__typename": "'Span'",
                        }[x.name],
                    )
                    return Json(f"CASE WHEN {a}.span_start IS NULL THEN NULL ELSE {span} END")
                case "source":
                    return self.source_by(s.fields, f"{a}.source_id")
                case "citedSource":
                    return self.source_by(s.fields, f"{a}.cited_source_id")
            raise NotCompilable(f"Appearance.{s.name}")

        return self.obj(sels, column, f"appearance {a}")

    def entity_by(self, sels: list[Sel], id_sql: str) -> Json:
        e = self.alias("e")
        return Json(f"(SELECT {self.entity(sels, e)} FROM entity {e} WHERE {e}.id = {id_sql})")

    def source_by(self, sels: list[Sel], id_sql: str) -> Json:
        s_ = self.alias("s")
        return Json(f"(SELECT {self.source(sels, s_)} FROM source {s_} WHERE {s_}.id = {id_sql})")

    def entity(self, sels: list[Sel], e: str) -> Json:
        def column(s: Sel) -> str:
            match s.name:
                case "__typename":
                    return "'Entity'"
                case "id":
                    return gid("Entity", f"{e}.id")
                case "databaseId":
                    return f"{e}.id"
                case "kind":
                    return _enum(f"{e}.kind")
                case "name":
                    return Json(f"{e}.name_json")
                case "description":
                    return f"{e}.description"
                case "aliases":
                    al = self.alias("al")
                    return Json(
                        f"(SELECT {_agg(al + '.alias', al + '.alias COLLATE ' + C)} "
                        f"FROM entity_alias {al} WHERE {al}.entity_id = {e}.id)"
                    )
                case "externalIds":
                    x = self.alias("x")
                    inner = self.obj(
                        s.fields,
                        lambda y: {
                            "scheme": f"{x}.scheme",
                            "value": f"{x}.value",
                            "__typename": "'ExternalId'",
                        }[y.name],
                    )
                    return Json(
                        f"(SELECT {_agg(inner, f'{x}.scheme, {x}.value')} "
                        f"FROM entity_external_id {x} WHERE {x}.entity_id = {e}.id)"
                    )
                case "roles":
                    ro = self.alias("ro")
                    inner = self.role(s.fields, ro)
                    return Json(
                        f"(SELECT {_agg(inner, f'{ro}.start_date NULLS FIRST, {ro}.id')} "
                        f"FROM entity_role {ro} WHERE {ro}.entity_id = {e}.id)"
                    )
                case "claims":
                    return self.claim_connection(s, ("speaker", f"{e}.id"))
                case "mentionedIn":
                    return self.claim_connection(s, ("mention", f"{e}.id"))
            raise NotCompilable(f"Entity.{s.name}")

        return self.obj(sels, column, f"entity {e}")

    def role(self, sels: list[Sel], ro: str) -> Json:
        return self.obj(
            sels,
            lambda y: {
                "id": gid("EntityRole", f"{ro}.id"),
                "title": f"{ro}.title",
                "startDate": f"{ro}.start_date",
                "endDate": f"{ro}.end_date",
                "__typename": "'EntityRole'",
            }[y.name],
            f"role {ro}",
        )

    def source(self, sels: list[Sel], s_: str) -> Json:
        def column(s: Sel) -> str:
            match s.name:
                case "__typename":
                    return "'Source'"
                case "id":
                    return gid("Source", f"{s_}.id")
                case "databaseId":
                    return f"{s_}.id"
                case "kind":
                    return _enum(f"{s_}.kind")
                case "title" | "url":
                    return Json(f"{s_}.{s.name}_json")
                case "language":
                    return f"{s_}.language"
                case "publishedAt":
                    return f"{s_}.published_at"
                case "publisher":
                    return self.entity_by(s.fields, f"{s_}.publisher_id")
                case "authors":
                    sa, e = self.alias("sa"), self.alias("e")
                    inner = self.entity(s.fields, e)
                    return Json(
                        f"(SELECT {_agg(inner, f'{sa}.position, {sa}.entity_id')} FROM source_author {sa} "
                        f"JOIN entity {e} ON {e}.id = {sa}.entity_id WHERE {sa}.source_id = {s_}.id)"
                    )
                case "claims":
                    return self.claim_connection(s, ("source", f"{s_}.id"))
                case "cites":
                    cs = self.alias("cs")
                    inner = self.source(s.fields, cs)
                    return Json(
                        f"(SELECT {_agg(inner, f'{cs}.id')} FROM source {cs} WHERE {cs}.id IN "
                        f"(SELECT a.cited_source_id FROM appearance a WHERE a.source_id = {s_}.id))"
                    )
            raise NotCompilable(f"Source.{s.name}")

        return self.obj(sels, column, f"source {s_}")

    def topic(self, sels: list[Sel], t: str) -> Json:
        def column(s: Sel) -> str:
            match s.name:
                case "__typename":
                    return "'Topic'"
                case "id":
                    return gid("Topic", f"{t}.id")
                case "slug" | "name":
                    return f"{t}.{s.name}"
                case "claims":
                    return self.claim_connection(s, ("topic", f"{t}.id"))
            raise NotCompilable(f"Topic.{s.name}")

        return self.obj(sels, column, f"topic {t}")

    # -- connections ------------------------------------------------------------------------

    def connection(
        self,
        s: Sel,
        page: str,
        sort: str,
        window: Window,
        node: Callable[[list[Sel], str], str],
        table: str,
        total: str | None,
        flat: Flat | None = None,
        tid: bool = False,
    ) -> str:
        """A Relay connection over a page statement of rows ``(id, sort_key)`` (``size + 1`` of them);
        with ``flat``, its page and members go there and the SQL returned is empty. ``tid``: the
        page's rows also carry ``tid``, their ``ctid`` (`db.filters.page_sql`), to fetch them by."""
        pg, x = self.alias("pg"), self.alias("n")
        size = self.p.int_literal(window.size)
        fwd = "DESC" if window.backward else "ASC"
        rev = "ASC" if window.backward else "DESC"
        cur = _quoted(cursor_sql(sort, f"{pg}.sort_key", f"{pg}.id"))  # base64url: nothing to escape
        more = f"((SELECT count(*) FROM {pg}) > {size})"
        given = "true" if window.cursor is not None else "false"
        has_next, has_prev = (given, more) if window.backward else (more, given)

        def edge_column(e: Sel) -> str:
            match e.name:
                case "__typename":
                    return f"'{table.capitalize()}Edge'"
                case "cursor":
                    return cur
                case "node":
                    return node(e.fields, x)
            raise NotCompilable(f"Edge.{e.name}")

        def info_column(i: Sel) -> str:
            match i.name:
                case "__typename":
                    return "'PageInfo'"
                case "hasNextPage":
                    return has_next
                case "hasPreviousPage":
                    return has_prev
                case "startCursor":
                    return Json(f"(SELECT {cur} FROM {pg} WHERE {pg}.n <= {size} ORDER BY {pg}.n {fwd} LIMIT 1)")
                case "endCursor":
                    return Json(f"(SELECT {cur} FROM {pg} WHERE {pg}.n <= {size} ORDER BY {pg}.n {rev} LIMIT 1)")
            raise NotCompilable(f"PageInfo.{i.name}")

        def column(c: Sel) -> str:
            match c.name:
                case "__typename":
                    return f"'{table.capitalize()}Connection'"
                case "edges":
                    edge = self.obj(c.fields, edge_column)
                    on = f"{x}.ctid = {pg}.tid" if tid else f"{x}.id = {pg}.id"
                    return Json(
                        f"(SELECT {_agg(edge, f'{pg}.n {fwd}')} FROM {pg} JOIN {table} {x} ON {on} "
                        f"WHERE {pg}.n <= {size})"
                    )
                case "pageInfo":
                    return self.obj(c.fields, info_column)
                case "totalCount" if total is not None:
                    return f"({total})"
            raise NotCompilable(f"Connection.{c.name}")

        numbered = f"SELECT q.id, q.sort_key{', q.tid' if tid else ''}, row_number() OVER () AS n FROM ({page}) q"
        if flat is not None:
            flat.ctes.append(f"{pg} AS ({numbered})")
            flat.members += ((c.key, _value(column(c))) for c in s.fields)
            return ""
        body = self.obj(s.fields, column)
        return Json(f"(WITH {pg} AS ({numbered}) SELECT {body})")

    def claim_connection(self, s: Sel, scope: tuple[str, str] | None, flat: Flat | None = None) -> str:
        f: ClaimFilter = s.args.get("filter") or ClaimFilter()
        sort: Sort = s.args.get("sort", "-said_at")
        window: Window = s.args["window"]
        page = page_sql(
            f,
            self.p,
            sort=sort,
            after=window.cursor,
            limit=window.size + 1,
            backward=window.backward,
            scope=scope,
            tid=True,
        )
        total = None
        if any(c.name == "totalCount" for c in s.fields):
            total = count_sql(f, self.p, scope)
        return self.connection(s, page, sort, window, self.claim, "claim", total, flat, tid=True)

    # -- the query root ---------------------------------------------------------------------

    def by_id(self, type_name: str, sels: list[Sel], row_id: int) -> Json:
        ident = self.p.add(row_id, "::bigint")
        match type_name:
            case "Claim":
                c = self.alias("c")
                return Json(
                    f"(SELECT {self.claim(sels, c)} FROM claim {c} WHERE {c}.id = {ident} AND {c}.deleted_at IS NULL)"
                )
            case "Entity":
                return self.entity_by(sels, ident)
            case "Source":
                return self.source_by(sels, ident)
            case "Topic":
                t = self.alias("t")
                return Json(f"(SELECT {self.topic(sels, t)} FROM topic {t} WHERE {t}.id = {ident})")
            case "Appearance":
                a = self.alias("a")
                return Json(
                    f"(SELECT {self.appearance(sels, a)} FROM appearance {a} WHERE {a}.id = {ident} "
                    f"AND EXISTS (SELECT 1 FROM claim c WHERE c.id = {a}.claim_id AND c.deleted_at IS NULL))"
                )
            case "EntityRole":
                ro = self.alias("ro")
                return Json(f"(SELECT {self.role(sels, ro)} FROM entity_role {ro} WHERE {ro}.id = {ident})")
        # An unused bound parameter would leave its type undetermined and fail the whole statement.
        raise NotCompilable(f"node of type {type_name}")

    def root_field(self, s: Sel, flat: Flat | None = None) -> str:
        """The JSON value of a root field; a connection's page and members go to ``flat`` if given."""
        match s.name:
            case "__typename":
                return "'Query'"
            case "claims":
                return self.claim_connection(s, None, flat)
            case "claim" | "entity" | "source":
                return self.by_id(s.name.capitalize(), s.fields, s.args["id"])
            case "node":
                type_name, row_id = s.args["id"]
                return self.by_id(type_name, s.by_type.get(type_name, []), row_id)
            case "nodes":
                items = [self.by_id(t, s.by_type.get(t, []), i) for t, i in s.args["ids"]]
                if not items:
                    return Json("'[]'")
                pieces = [p for i, item in enumerate(items) for p in ("[" if i == 0 else ", ", _value(item))]
                return Json(_text(*pieces, "]"))
            case "topics":
                t = self.alias("t")
                return Json(f"(SELECT {_agg(self.topic(s.fields, t), t + '.slug COLLATE ' + C)} FROM topic {t})")
            case "entities":
                window: Window = s.args["window"]
                sort = "entities-rank" if s.args.get("search") is not None else "entities"
                page = graph.entity_page_sql(
                    self.p,
                    search=s.args.get("search"),
                    kind=s.args.get("kind"),
                    after=window.cursor,
                    limit=window.size + 1,
                )
                return self.connection(s, page, sort, window, self.entity, "entity", None, flat)
            case "sources":
                window = s.args["window"]
                page = graph.source_page_sql(
                    self.p,
                    publisher=s.args.get("publisher"),
                    published_after=s.args.get("published_after"),
                    published_before=s.args.get("published_before"),
                    after=window.cursor,
                    limit=window.size + 1,
                )
                return self.connection(s, page, "sources", window, self.source, "source", None, flat)
            case "search":
                h = self.alias("h")
                hits = graph.search_sql(self.p, s.args["query"], s.args["first"])
                c, e = self.alias("c"), self.alias("e")
                claim = self.claim(s.by_type.get("Claim", []), c)
                entity = self.entity(s.by_type.get("Entity", []), e)
                item = Json(
                    f"CASE WHEN {h}.type = 'Claim' THEN (SELECT {claim} FROM claim {c} WHERE {c}.id = {h}.id) "
                    f"ELSE (SELECT {entity} FROM entity {e} WHERE {e}.id = {h}.id) END"
                )
                return Json(f"(SELECT {_agg(item, f'{h}.rank DESC, {h}.type, {h}.id')} FROM ({hits}) {h})")
        raise NotCompilable(f"Query.{s.name}")

    def query(self, sels: list[Sel]) -> tuple[str, tuple[bytes, ...]]:
        """The statement — one row of JSON texts: per root field, or per member of a root
        connection — and the JSON between them, written as ``json_build_object`` writes it."""
        if len(sels) > self.MAX_KEYS:
            raise NotCompilable("too many fields in one selection")
        ctes: list[str] = []
        columns: list[str] = []
        pieces = ['{"data" : {']  # the literal JSON before each column, and after the last

        def member(i: int, key: str, sql: str) -> None:
            pieces[-1] += f'{", " if i else ""}"{key}" : '
            columns.append(f"convert_to({sql}, 'UTF8')")  # bytes as they go out: see `Statement`
            pieces.append("")

        for i, s in enumerate(sels):
            flat = Flat() if s.name in CONNECTIONS else None
            sql = self.root_field(s, flat)
            if flat is None:
                member(i, s.key, _value(sql))
                continue
            ctes += flat.ctes
            pieces[-1] += f'{", " if i else ""}"{s.key}" : {{'
            for j, (key, value) in enumerate(flat.members):
                member(j, key, value)
            pieces[-1] += "}"
        pieces[-1] += "}}"
        with_ = f"WITH {', '.join(ctes)} " if ctes else ""
        return f"{with_}SELECT {', '.join(columns)}", tuple(p.encode() for p in pieces)


CONNECTIONS = {"claims", "entities", "sources"}  # the root fields that are connections


def compile_query(sels: list[Sel]) -> Statement:
    """The statement answering a query operation whose root selection is ``sels``."""
    compiler = Compiler()
    sql, pieces = compiler.query(sels)
    return Statement(sql, compiler.p.values, pieces)
