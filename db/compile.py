"""Compile a GraphQL selection plan into ONE SQL statement that returns the response JSON.

The schema layer parses and validates the operation (graphql-core), interprets its arguments, and
hands over a tree of `Sel`, each carrying its field's store declaration (db/graph.py); this module
walks the declarations (it knows no field of a stored type by name; only Relay's connection,
edge and pageInfo fields) and writes SQL that builds the JSON as text: objects as
``'{"id" : ' || … || '}'``, lists as ``string_agg``, values through ``to_json``
— byte for byte what ``json_build_object``/``json_agg`` write, without their per-row look-up of
the type of every key and value (see `Json`). PostgreSQL builds the whole document and the bytes
go to the socket untouched. This is GraphQL's only read path: queries, ``node``/``nodes``, and the
payloads of mutations and subscriptions (read by id after the write) all come through here.

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


@dataclass
class Window:
    """A Relay page: how many, after which cursor, which way."""

    size: int
    cursor: Cursor | None
    backward: bool = False


@dataclass
class Sel:
    """One selected field: response key, field name, its type's name, its store declaration,
    interpreted arguments, sub-selections.

    ``fields`` is the sub-selection of an object-typed field; ``by_type`` the sub-selection per
    concrete type of an interface- or union-typed one. ``null``: the field is answered ``null``
    without reading (an argument error under it, reported beside the data).
    """

    key: str
    name: str
    type: str = ""
    store: graph.Store | None = None
    args: dict[str, Any] = field(default_factory=dict)
    fields: list[Sel] = field(default_factory=list)
    by_type: dict[str, list[Sel]] = field(default_factory=dict)
    # Set by the planner on a subtree without arguments, shared by every request of its document:
    # its SQL depends only on where it sits, so `Compiler.obj` remembers it per place.
    fixed: bool = False
    null: bool = False
    sql: dict[tuple[str, str], str] = field(default_factory=dict, repr=False, compare=False)


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

    def __init__(self) -> None:
        self.p = Params()
        self.n = 0

    def alias(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # -- objects ---------------------------------------------------------------------------

    def obj(self, sels: list[Sel], column: Callable[[Sel], str], place: str = "", type_name: str = "") -> Json:
        """The JSON object of the columns, as ``json_build_object`` writes it; ``place`` (the type
        and the alias of the row it reads, e.g. ``"Claim c3"``) lets the SQL of a fixed field be reused.

        A fixed field's SQL refers to no alias of the statement but ``place``'s own, and the aliases
        it makes inside were numbered after that one, so reusing it never captures another row;
        it binds no parameter (checked: one that does is simply not remembered).
        """
        if not sels:
            return Json("'{}'")
        parts: list[str] = []
        for s in sels:
            if s.name == "__typename":
                sql = f"'{type_name}'"
            elif s.null:
                sql = Json("NULL")
            elif s.fixed and place:
                key = (place, s.name)
                cached = s.sql.get(key)
                if cached is None:
                    bound = len(self.p.values)
                    cached = column(s)
                    if len(self.p.values) == bound:
                        if len(s.sql) >= 32:  # places vary with what precedes; keep a few
                            s.sql.clear()
                        s.sql[key] = cached
                sql = cached
            else:
                sql = column(s)
            parts += [("{" if not parts else ", ") + f'"{s.key}" : ', _value(sql)]
        return Json(_text(*parts, "}"))

    def fields(self, type_name: str, sels: list[Sel], x: str) -> Json:
        """The JSON object of a row of ``type_name`` read at alias ``x``."""
        return self.obj(sels, lambda s: self.field(s, x), f"{type_name} {x}", type_name)

    def field(self, s: Sel, x: str) -> str:
        """SQL of one field of the row at ``x``, from the field's declaration."""
        match s.store:
            case graph.Column(name, "json"):
                return Json(f"{x}.{name}")
            case graph.Column(name, "enum"):
                return _enum(f"{x}.{name}")
            case graph.Column(name):
                return f"{x}.{name}"
            case graph.GlobalId(type_name):
                return gid(type_name, f"{x}.id")
            case graph.One(key, table):
                return self.row(s, table, f"{x}.{key}")
            case graph.Many() as many:
                return self.many(s, many, x)
            case graph.Inline(null_when):
                return Json(f"CASE WHEN {x}.{null_when} IS NULL THEN NULL ELSE {self.fields(s.type, s.fields, x)} END")
            case graph.ClaimPage(scope):
                return self.claim_connection(s, (scope, f"{x}.id") if scope else None)
        raise TypeError(f"{s.type}.{s.name}: not a field of a stored row")

    def row(self, s: Sel, table: graph.Table, id_sql: str) -> Json:
        """The object of the row of ``table`` with id ``id_sql`` (null when there is none)."""
        y = self.alias(table.prefix)
        return Json(f"(SELECT {self.fields(s.type, s.fields, y)} FROM {table.name} {y} WHERE {y}.id = {id_sql})")

    def many(self, s: Sel, many: graph.Many, parent: str) -> Json:
        """The JSON array of a relation's rows, in its order; ``[]`` for none."""
        names = {a: self.alias(a) for a in many.aliases}
        row = names[many.aliases[many.row]]
        item = f"{row}.{many.item}" if many.item else self.fields(s.type, s.fields, row)
        return Json(f"(SELECT {_agg(item, many.order.format(**names))} FROM {many.source.format(p=parent, **names)})")

    # -- connections ------------------------------------------------------------------------

    def connection(
        self,
        s: Sel,
        page: str,
        sort: str,
        window: Window,
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
            if e.name == "cursor":
                return cur
            return self.fields(e.type, e.fields, x)  # node

        def info_column(i: Sel) -> str:
            match i.name:
                case "hasNextPage":
                    return has_next
                case "hasPreviousPage":
                    return has_prev
                case "startCursor":
                    return Json(f"(SELECT {cur} FROM {pg} WHERE {pg}.n <= {size} ORDER BY {pg}.n {fwd} LIMIT 1)")
            return Json(f"(SELECT {cur} FROM {pg} WHERE {pg}.n <= {size} ORDER BY {pg}.n {rev} LIMIT 1)")  # endCursor

        def column(c: Sel) -> str:
            match c.name:
                case "edges":
                    edge = self.obj(c.fields, edge_column, type_name=c.type)
                    on = f"{x}.ctid = {pg}.tid" if tid else f"{x}.id = {pg}.id"
                    return Json(
                        f"(SELECT {_agg(edge, f'{pg}.n {fwd}')} FROM {pg} JOIN {table} {x} ON {on} "
                        f"WHERE {pg}.n <= {size})"
                    )
                case "pageInfo":
                    return self.obj(c.fields, info_column, type_name=c.type)
            return f"({total})"  # totalCount

        numbered = f"SELECT q.id, q.sort_key{', q.tid' if tid else ''}, row_number() OVER () AS n FROM ({page}) q"
        if flat is not None:
            flat.ctes.append(f"{pg} AS ({numbered})")
            flat.members += (
                (c.key, f"'\"{s.type}\"'" if c.name == "__typename" else _value(column(c))) for c in s.fields
            )
            return ""
        body = self.obj(s.fields, column, type_name=s.type)
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
        return self.connection(s, page, sort, window, graph.CLAIM.name, total, flat, tid=True)

    # -- the root -----------------------------------------------------------------------------

    def by_id(self, type_name: str, sels: list[Sel], row_id: int) -> Json:
        """The object of type ``type_name`` (a `graph.NODES` key) with this id, or null."""
        table = graph.NODES[type_name]
        ident = table.lookup.format(id=self.p.add(row_id, "::bigint"))
        x = self.alias(table.prefix)
        live = f" AND {table.live.format(x=x)}" if table.live else ""
        return Json(f"(SELECT {self.fields(type_name, sels, x)} FROM {table.name} {x} WHERE {x}.id = {ident}{live})")

    def root_field(self, s: Sel, flat: Flat | None = None) -> str:
        """The JSON value of a root field; a connection's page and members go to ``flat`` if given."""
        match s.store:
            case graph.ClaimPage():
                return self.claim_connection(s, None, flat)
            case graph.ById(table):
                type_name, row_id = (s.type, s.args["id"]) if table is not None else s.args["id"]
                return self.by_id(type_name, s.by_type.get(type_name, s.fields), row_id)
            case graph.ByIds():
                items = [self.by_id(t, s.by_type.get(t, s.fields), i) for t, i in s.args["ids"]]
                if not items:
                    return Json("'[]'")
                pieces = [p for i, item in enumerate(items) for p in ("[" if i == 0 else ", ", _value(item))]
                return Json(_text(*pieces, "]"))
            case graph.Many() as many:
                return self.many(s, many, "")
            case graph.EntityPage():
                window: Window = s.args["window"]
                sort = "entities-rank" if s.args.get("search") is not None else "entities"
                page = graph.entity_page_sql(
                    self.p,
                    search=s.args.get("search"),
                    kind=s.args.get("kind"),
                    after=window.cursor,
                    limit=window.size + 1,
                )
                return self.connection(s, page, sort, window, graph.ENTITY.name, None, flat)
            case graph.SourcePage():
                window = s.args["window"]
                page = graph.source_page_sql(
                    self.p,
                    publisher=s.args.get("publisher"),
                    published_after=s.args.get("published_after"),
                    published_before=s.args.get("published_before"),
                    after=window.cursor,
                    limit=window.size + 1,
                )
                return self.connection(s, page, "sources", window, graph.SOURCE.name, None, flat)
            case graph.Search():
                h = self.alias("h")
                hits = graph.search_sql(self.p, s.args["query"], s.args["first"])
                c, e = self.alias("c"), self.alias("e")
                claim = self.fields("Claim", s.by_type.get("Claim", []), c)
                entity = self.fields("Entity", s.by_type.get("Entity", []), e)
                item = Json(
                    f"CASE WHEN {h}.type = 'Claim' THEN (SELECT {claim} FROM claim {c} WHERE {c}.id = {h}.id) "
                    f"ELSE (SELECT {entity} FROM entity {e} WHERE {e}.id = {h}.id) END"
                )
                return Json(f"(SELECT {_agg(item, f'{h}.rank DESC, {h}.type, {h}.id')} FROM ({hits}) {h})")
        raise TypeError(f"{s.type}.{s.name}: not a root field of the store")

    def query(self, sels: list[Sel], root: str = "Query") -> tuple[str, tuple[bytes, ...]]:
        """The statement — one row of JSON texts: per root field, or per member of a root
        connection — and the JSON between them, written as ``json_build_object`` writes it.

        A field answered without reading (``__typename``, a nulled field, introspection: its JSON
        in ``args["json"]``) is written straight into the JSON between the columns."""
        ctes: list[str] = []
        columns: list[str] = []
        pieces = ['{"data" : {']  # the literal JSON before each column, and after the last

        def member(i: int, key: str, sql: str) -> None:
            pieces[-1] += f'{", " if i else ""}"{key}" : '
            columns.append(f"convert_to({sql}, 'UTF8')")  # bytes as they go out: see `Statement`
            pieces.append("")

        for i, s in enumerate(sels):
            literal = _literal(s, root)
            if literal is not None:
                pieces[-1] += f'{", " if i else ""}"{s.key}" : {literal}'
                continue
            flat = Flat() if isinstance(s.store, graph.ClaimPage | graph.EntityPage | graph.SourcePage) else None
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
        if not columns:
            return "", tuple(p.encode() for p in pieces)
        with_ = f"WITH {', '.join(ctes)} " if ctes else ""
        return f"{with_}SELECT {', '.join(columns)}", tuple(p.encode() for p in pieces)


def _literal(s: Sel, root: str) -> str | None:
    """The JSON of a root field known without reading, or None."""
    if s.name == "__typename":
        return f'"{root}"'
    if s.null:
        return "null"
    json: str | None = s.args.get("json")
    return json


def compile_query(sels: list[Sel], root: str = "Query") -> Statement:
    """The statement answering an operation whose root selection is ``sels`` (an empty ``sql``
    when nothing needs reading: ``Statement.document(())`` is then the answer)."""
    compiler = Compiler()
    sql, pieces = compiler.query(sels, root)
    return Statement(sql, compiler.p.values, pieces)
