"""The floor: the statements Claimsbase runs, from a bare ASGI app, result bytes straight out.

No routing framework, no validation, no middleware: the path picks the statement, a connection
from the app's own pool (`db.pool`, no reset on release, as db/database.py uses it) runs it, and
the JSON text PostgreSQL built is the response body. Whatever Claimsbase spends above this is the
cost of being an API.

    BENCH_DSN=postgresql://… BENCH_WORDS=energy,oil python -m bench.floor --port 8302 --workers 2

It is served the way `claims serve` serves Claimsbase (uvicorn, httptools), so the two differ by
the app alone.

Paths: ``/feed`` (GraphQL feed), ``/gql/claim/{id}``, ``/gql/person/{id}``, ``/gql/search/{word}``,
``/rest/claims/{id}``, ``/rest/speaker/{id}?after=…&before=…``, ``/rest/search/{word}``.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import asyncpg

from bench import queries
from db.compile import Statement
from db.pool import Pool

JSON_HEADERS = [(b"content-type", b"application/json")]


async def _connect() -> asyncpg.Connection:
    settings = {"TimeZone": "UTC", "application_name": "bench-floor"}
    return await asyncpg.connect(os.environ["BENCH_DSN"], server_settings=settings)


class Statements:
    """Every floor statement, compiled once per process by the project's own code."""

    def __init__(self, words: list[str]) -> None:
        from db import claims

        self.feed = queries.compiled(queries.FEED, {"first": 50})
        self.claim = queries.varying(queries.CLAIM, "id", queries.global_id("Claim", 5), queries.global_id("Claim", 7))
        self.person = queries.varying(
            queries.PERSON, "id", queries.global_id("Entity", 5), queries.global_id("Entity", 7)
        )
        self.search = {w: queries.compiled(queries.SEARCH, {"q": w}) for w in words}
        self.get_claim = claims.GET_CLAIM

    @staticmethod
    def bind(template: tuple[Statement, list[int]], value: Any) -> Statement:
        statement, positions = template
        out = list(statement.params)
        for i in positions:
            out[i] = value
        return statement._replace(params=out)


def rest_list(f: Any, limit: int = 20) -> tuple[str, list[Any]]:
    """The statement `GET /v1/claims` runs (db/claims.py builds it; same functions here)."""
    from db.claims import list_sql
    from db.filters import Params, page_sql

    p = Params()
    page = page_sql(f, p, sort="-said_at", after=None, limit=limit + 1)
    return list_sql(page, p, limit=limit, sort="-said_at", owner=None), p.values


class Floor:
    """The ASGI app."""

    def __init__(self) -> None:
        self.pool: Pool | None = None
        self.statements: Statements | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        status, body = await self.answer(scope["path"], scope.get("query_string", b""))
        await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": body})

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                words = [w for w in os.environ.get("BENCH_WORDS", "energy").split(",") if w]
                self.statements = Statements(words)
                self.pool = await Pool(_connect, min_size=2, max_size=10).start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def answer(self, path: str, query_string: bytes) -> tuple[int, bytes]:
        from db.filters import ClaimFilter

        s = self.statements
        assert s is not None and self.pool is not None
        parts = path.strip("/").split("/")
        match parts:
            case ["feed"]:
                statement = s.feed
            case ["gql", "claim", ident]:
                statement = s.bind(s.claim, int(ident))
            case ["gql", "person", ident]:
                statement = s.bind(s.person, int(ident))
            case ["gql", "search", word]:
                statement = s.search[word]
            case ["rest", "claims", ident]:
                row = await self.run(asyncpg.Connection.fetchrow, s.get_claim, [int(ident)])
                return (200, row["body"].encode()) if row else (404, b"{}")
            case ["rest", "speaker", ident]:
                qs = {k: v[0] for k, v in parse_qs(query_string.decode()).items()}
                f = ClaimFilter(
                    speakers=(int(ident),),
                    said_after=datetime.fromisoformat(qs["after"]),
                    said_before=datetime.fromisoformat(qs["before"]),
                )
                return await self.page(*rest_list(f))
            case ["rest", "search", word]:
                return await self.page(*rest_list(ClaimFilter(q=word)))
            case _:
                return 404, b"{}"
        row = await self.run(asyncpg.Connection.fetchrow, statement.sql, statement.params)
        return 200, statement.document(row)

    async def page(self, sql: str, params: list[Any]) -> tuple[int, bytes]:
        row = await self.run(asyncpg.Connection.fetchrow, sql, params)
        assert row is not None
        return 200, row["body"].encode()

    async def run(self, method: Any, sql: str, params: list[Any]) -> Any:
        """One statement on a pooled connection."""
        assert self.pool is not None
        conn = await self.pool.acquire()
        try:
            return await method(conn, sql, *params)
        finally:
            self.pool.release(conn)


app = Floor()


def main() -> None:
    """uvicorn as `claims serve` runs it, no access log."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8302)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bench.floor:app",
        http="httptools",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
