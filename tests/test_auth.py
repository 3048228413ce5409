"""API keys: created once, stored as hashes, scopes read < write < admin, 401/403 as problem+json."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from click.testing import CliRunner

from api.app import create_app
from api.auth import Caller, authenticator, caller_from_headers, implied_scopes
from api.cli import main as cli
from api.errors import Problem
from api.settings import Settings
from db.database import Database
from db.keys import create_key, hash_token, list_keys, parse_token, revoke_key
from tests.helpers import assert_problem, serve

CHALLENGE = 'ApiKey header="X-API-Key"'


@pytest.fixture
async def http(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(db, settings) as client:
        yield client


async def test_a_new_key_is_shown_once_and_stored_only_as_its_hash(db: Database) -> None:
    new = await create_key(db, ["write"], "ingest bot")

    assert parse_token(new.secret) == new.prefix
    row = await db.fetchrow("SELECT * FROM api_key WHERE prefix = $1", new.prefix)
    assert row is not None
    assert row["hash"] == hashlib.sha256(new.secret.encode()).hexdigest() == hash_token(new.secret)
    secret_part = new.secret.rsplit("_", 1)[1]
    assert all(secret_part not in str(value) for value in row.values())


async def test_listing_keys_shows_prefixes_scopes_and_state(db: Database) -> None:
    first = await create_key(db, ["read"], "dashboard")
    second = await create_key(db, ["admin", "write"])
    assert await revoke_key(db, first.prefix)

    listed = await list_keys(db)

    assert [(k.prefix, k.scopes, k.name) for k in listed] == [
        (first.prefix, ["read"], "dashboard"),
        (second.prefix, ["admin", "write"], ""),
    ]
    assert listed[0].revoked_at is not None and listed[1].revoked_at is None


async def test_revoking_needs_an_active_key_with_that_prefix(db: Database) -> None:
    key = await create_key(db, ["read"])

    assert await revoke_key(db, key.prefix)
    assert not await revoke_key(db, key.prefix)
    assert not await revoke_key(db, "000000000000")


async def test_keys_need_known_scopes(db: Database) -> None:
    with pytest.raises(ValueError, match="scopes"):
        await create_key(db, ["superuser"])
    with pytest.raises(ValueError, match="scopes"):
        await create_key(db, [])


def test_admin_implies_write_and_write_implies_read() -> None:
    assert implied_scopes(["admin"]) == {"admin", "write", "read"}
    assert implied_scopes(["write"]) == {"write", "read"}
    assert implied_scopes(["read"]) == {"read"}


async def test_reads_are_public_by_default(http: httpx.AsyncClient) -> None:
    response = await http.get("/t/read")

    assert response.status_code == 200
    assert response.json() == {"key_id": None, "scopes": ["read"], "prefix": None}


async def test_a_write_without_a_key_is_401_with_a_challenge(http: httpx.AsyncClient) -> None:
    response = await http.post("/t/write")

    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == CHALLENGE
    assert "'write' scope" in body["detail"] and "X-API-Key" in body["detail"]


async def test_a_read_key_cannot_write_and_gets_403(db: Database, http: httpx.AsyncClient) -> None:
    key = await create_key(db, ["read"])

    response = await http.post("/t/write", headers={"X-API-Key": key.secret})

    body = assert_problem(response, 403)
    assert "'write' scope" in body["detail"]
    assert "www-authenticate" not in response.headers


async def test_an_admin_key_may_read_write_and_administer(db: Database, http: httpx.AsyncClient) -> None:
    key = await create_key(db, ["admin"])
    headers = {"X-API-Key": key.secret}

    for method, path in [("GET", "/t/read"), ("POST", "/t/write"), ("DELETE", "/t/admin")]:
        response = await http.request(method, path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["scopes"] == ["admin", "read", "write"]
        assert response.json()["prefix"] == key.prefix


async def test_a_write_key_cannot_administer(db: Database, http: httpx.AsyncClient) -> None:
    key = await create_key(db, ["write"])

    assert (await http.post("/t/write", headers={"X-API-Key": key.secret})).status_code == 200
    assert_problem(await http.delete("/t/admin", headers={"X-API-Key": key.secret}), 403)


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        "cb_0123456789ab_" + "0" * 64,  # well-formed, unknown
        "cb_0123456789ab_" + "0" * 63 + "'",  # shaped like SQL trouble
    ],
)
async def test_a_bad_key_is_401_even_where_no_key_is_needed(http: httpx.AsyncClient, token: str) -> None:
    response = await http.get("/t/read", headers={"X-API-Key": token})

    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == CHALLENGE
    assert "invalid or has been revoked" in body["detail"]


async def test_a_key_with_the_right_prefix_and_a_wrong_secret_is_refused(db: Database, http: httpx.AsyncClient) -> None:
    key = await create_key(db, ["write"])
    forged = f"cb_{key.prefix}_" + "f" * 64

    assert_problem(await http.post("/t/write", headers={"X-API-Key": forged}), 401)
    row = await db.fetchrow("SELECT last_used_at FROM api_key WHERE prefix = $1", key.prefix)
    assert row is not None and row["last_used_at"] is None


async def test_a_revoked_key_is_refused_once_the_cache_period_ends(db: Database, settings: Settings) -> None:
    key = await create_key(db, ["write"])
    headers = {"X-API-Key": key.secret}
    async with serve(db, replace(settings, api_key_cache_s=0)) as http:
        assert (await http.post("/t/write", headers=headers)).status_code == 200
        await revoke_key(db, key.prefix)

        assert_problem(await http.post("/t/write", headers=headers), 401)


async def test_a_checked_key_is_trusted_for_the_cache_period(db: Database, http: httpx.AsyncClient) -> None:
    key = await create_key(db, ["write"])
    headers = {"X-API-Key": key.secret}
    assert (await http.post("/t/write", headers=headers)).status_code == 200
    statements: list[str] = []
    db.statement_listeners.append(statements.append)

    for _ in range(5):
        assert (await http.post("/t/write", headers=headers)).status_code == 200

    assert not [sql for sql in statements if "api_key" in sql]


async def test_using_a_key_records_when_it_was_last_used(db: Database, http: httpx.AsyncClient) -> None:
    key = await create_key(db, ["read"])

    await http.get("/t/read", headers={"X-API-Key": key.secret})

    row = await db.fetchrow("SELECT last_used_at FROM api_key WHERE prefix = $1", key.prefix)
    assert row is not None and row["last_used_at"] is not None


async def test_reads_can_be_made_key_only(db: Database, settings: Settings) -> None:
    key = await create_key(db, ["read"])
    async with serve(db, replace(settings, require_key_for_reads=True)) as http:
        response = await http.get("/t/read")
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == CHALLENGE

        assert (await http.get("/t/read", headers={"X-API-Key": key.secret})).status_code == 200


async def test_graphql_queries_follow_the_same_read_rules(db: Database, settings: Settings) -> None:
    key = await create_key(db, ["read"])
    query = {"query": "{ topics { slug } }"}
    async with serve(db, replace(settings, require_key_for_reads=True)) as http:
        refused = await http.post("/graphql", json=query)
        assert_problem(refused, 401)
        assert refused.headers["www-authenticate"] == CHALLENGE
        assert_problem(await http.get("/graphql", params=query, headers={"X-API-Key": "cb_forged"}), 401)
        allowed = await http.post("/graphql", json=query, headers={"X-API-Key": key.secret})
        assert allowed.status_code == 200 and allowed.json() == {"data": {"topics": []}}
    async with serve(db, settings) as http:
        assert (await http.post("/graphql", json=query)).json() == {"data": {"topics": []}}


async def test_graphql_callers_come_from_headers_or_a_connection_init_payload(db: Database, settings: Settings) -> None:
    read_key = await create_key(db, ["read"])
    write_key = await create_key(db, ["write"])
    app = create_app(settings, database=db)
    state = app.state

    anonymous = await caller_from_headers(state, {}, "10.0.0.1")
    assert anonymous == Caller(None, frozenset({"read"}), "10.0.0.1")
    from_payload = await caller_from_headers(state, {"x-api-key": write_key.secret}, "10.0.0.1", "write")
    assert from_payload.key_prefix == write_key.prefix and from_payload.allows("write")
    with pytest.raises(Problem) as refused:
        await caller_from_headers(state, {"X-API-Key": read_key.secret}, "10.0.0.1", "write")
    assert refused.value.status == 403
    with pytest.raises(Problem) as unknown:
        await caller_from_headers(state, httpx.Headers({"X-Api-Key": "cb_nope"}), "10.0.0.1")
    assert unknown.value.status == 401 and unknown.value.headers["WWW-Authenticate"] == CHALLENGE
    with pytest.raises(Problem) as anonymous_write:
        await caller_from_headers(state, {}, "10.0.0.1", "write")
    assert anonymous_write.value.status == 401


async def test_rejected_tokens_are_remembered_too(db: Database, settings: Settings) -> None:
    app = create_app(settings, database=db)
    statements: list[str] = []
    db.statement_listeners.append(statements.append)
    token = "cb_0123456789ab_" + "1" * 64

    for _ in range(3):
        with pytest.raises(Problem):
            await authenticator(app.state).caller(token, "")

    assert len([sql for sql in statements if "api_key" in sql]) == 1


def test_the_cli_creates_lists_and_revokes_keys(server_dsn: str) -> None:
    runner = CliRunner()
    env = {"CLAIMS_DATABASE_URL": server_dsn}

    created = runner.invoke(cli, ["keys", "create", "--scope", "write", "--name", "cli test"], env=env)
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    prefix = parse_token(token)
    assert prefix is not None

    listed = runner.invoke(cli, ["keys", "list"], env=env)
    assert re.search(rf"^{prefix} +write +active +.*  cli test$", listed.output, re.M), listed.output
    assert token.rsplit("_", 1)[1] not in listed.output

    assert runner.invoke(cli, ["keys", "revoke", prefix], env=env).output.strip() == "revoked"
    again = runner.invoke(cli, ["keys", "revoke", prefix], env=env)
    assert again.exit_code == 1
    assert re.search(rf"^{prefix} +write +revoked ", runner.invoke(cli, ["keys", "list"], env=env).output, re.M)
