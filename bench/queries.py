"""The operations every workload sends, and the SQL our compiler makes of them (for the floors).

The same GraphQL documents go to Claimsbase and (rewritten for its generated schema) to
PostGraphile; `compiled` asks the project's own planner and compiler for the statement, so the
floors run exactly what `/graphql` runs.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from db.compile import Statement

FEED = """query Feed($first: Int!) {
  claims(first: $first) {
    edges { cursor node {
      id content saidAt
      speakers { role entity { id name } }
      appearances { quote source { id title url publishedAt publisher { id name } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

FEED_AFTER = FEED.replace("Feed($first: Int!)", "FeedAfter($first: Int!, $after: String)").replace(
    "claims(first: $first)", "claims(first: $first, after: $after)"
)

CLAIM = """query Claim($id: ID!) {
  claim(id: $id) {
    id content saidAt
    speakers { role entity { id name } }
    appearances { quote source { id title url publishedAt publisher { id name } } }
  }
}"""

PERSON = """query Person($id: ID!) {
  entity(id: $id) {
    id name kind aliases
    claims(first: 20) {
      edges { node { id content saidAt appearances { quote source { id title publisher { id name } } } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

SEARCH = """query Search($q: String!) {
  search(query: $q, first: 10) {
    __typename
    ... on Claim { id content saidAt }
    ... on Entity { id name kind }
  }
}"""

# PostGraphile 5 (amber preset, default inflection) over the same tables: the same fields, named
# the way it names them, in the order our feed uses (newest said first, then id).
PG_FEED = """query Feed($first: Int!) {
  allClaims(first: $first, orderBy: [SAID_KEY_DESC, ROW_ID_DESC], condition: {deletedAt: null}) {
    edges { cursor node {
      id: rowId content saidAt
      claimSpeakersByClaimId { nodes { role entityByEntityId { id: rowId name } } }
      appearancesByClaimId { nodes { quote sourceBySourceId {
        id: rowId title url publishedAt entityByPublisherId { id: rowId name } } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

PG_CLAIM = """query Claim($id: BigInt!) {
  claimByRowId(rowId: $id) {
    id: rowId content saidAt
    claimSpeakersByClaimId { nodes { role entityByEntityId { id: rowId name } } }
    appearancesByClaimId { nodes { quote sourceBySourceId {
      id: rowId title url publishedAt entityByPublisherId { id: rowId name } } } }
  }
}"""


def global_id(type_name: str, row_id: int) -> str:
    """Our Relay ids (schema/graphql/scalars.py)."""
    from schema.graphql.scalars import to_global_id

    return str(to_global_id(type_name, row_id))


@cache
def _executor() -> Any:
    from api.graphql import build
    from api.settings import Settings

    return build(Settings())[1]


def compiled(query: str, variables: dict[str, Any]) -> Statement:
    """The statement `/graphql` runs for this operation — the same code path, minus HTTP."""
    from graphql.execution.values import get_variable_values

    from api.graphql.executor import _operation

    executor = _executor()
    prepared = executor.prepare(query)
    if prepared.document is None:
        raise ValueError(f"invalid document: {prepared.errors}")
    operation = _operation(prepared.document, None)
    coerced = get_variable_values(executor.gql, operation.variable_definitions or [], variables)
    if isinstance(coerced, list):
        raise ValueError(f"bad variables: {coerced}")
    statement: Statement = executor.compile(prepared, operation, None, query, coerced)
    return statement


def varying(query: str, name: str, a: Any, b: Any) -> tuple[Statement, list[int]]:
    """The statement for ``query`` plus the parameter positions that carry variable ``name``.

    Compiles with two values and compares: positions that differ are the variable's.
    """
    one, other = compiled(query, {name: a}), compiled(query, {name: b})
    if one.sql != other.sql or one.pieces != other.pieces or len(one.params) != len(other.params):
        raise ValueError("the statement's text depends on the variable")
    return one, [i for i, (x, y) in enumerate(zip(one.params, other.params, strict=True)) if x != y]
