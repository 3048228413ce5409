"""GraphQL's error log: a client's mistake is one INFO line without a traceback; a fault is an ERROR
with its traceback."""

from __future__ import annotations

import logging

import httpx
import pytest
import strawberry
from graphql import GraphQLError

from schema.graphql.schema import Schema

MISTAKES = [
    '{ claims(after: "not a cursor") { totalCount } }',  # an argument a resolver refuses
    '{ claim(id: "Q2xhaW06") { id } }',  # an id that is none
    "{ claims { secret } }",  # a field that does not exist
    "query($n: Int) { claims(first: $n) { totalCount } }",  # fine, but sent with a string for $n below
]


@pytest.mark.parametrize("query", MISTAKES)
async def test_a_client_error_is_logged_at_info_without_a_traceback(
    query: str, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    variables = {"n": "twenty"} if "$n" in query else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code < 500 and response.json()["errors"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert all(r.exc_info is None for r in caplog.records)


@strawberry.type
class Query:
    @strawberry.field
    def refused(self) -> int:
        raise GraphQLError("n: must be positive", extensions={"code": "BAD_USER_INPUT"})

    @strawberry.field
    def broken(self) -> int:
        return 1 // 0


async def test_a_refused_argument_is_one_info_line_and_a_fault_an_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema = Schema(query=Query)
    caplog.set_level(logging.DEBUG, logger="strawberry.execution")
    await schema.execute("{ refused }")
    [info] = caplog.records
    assert (info.levelno, info.getMessage(), info.exc_info) == (logging.INFO, "client error: n: must be positive", None)
    assert (info.__dict__["code"], info.__dict__["graphql_path"]) == ("BAD_USER_INPUT", ["refused"])
    caplog.clear()
    await schema.execute("{ broken }")
    [error] = caplog.records
    assert error.levelno == logging.ERROR
    assert error.exc_info is not None and error.exc_info[0] is ZeroDivisionError
