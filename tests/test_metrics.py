"""GET /metrics: Prometheus text with requests by route template, latency, GraphQL, pool, limits."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from api.app import create_app
from api.settings import Settings
from db.database import Database, StatementTimeout
from tests.browser import serve_in_thread
from tests.helpers import settled
from tests.rest_helpers import MERZ, document, quote, write

ROOT = Path(__file__).resolve().parents[1]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition: ``{(name, labels): value}``."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient, key: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = await http.get("/metrics", headers={"X-API-Key": key})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return samples(answer.text)


async def test_requests_are_counted_by_route_template_method_and_status(
    client: httpx.AsyncClient, keys: dict[str, str], db: Database
) -> None:
    written = await write(db, document("https://example.com/counted", quote("Counted words.", MERZ)))
    before = await scrape(client, keys["admin"])
    assert (await client.get(f"/v1/claims/{written.claims[0].id}")).status_code == 200  # its plain shape answers
    for claim_id in (123456, 123457, 123458):
        assert (await client.get(f"/v1/claims/{claim_id}")).status_code == 404
    assert (await client.get("/no/such/path")).status_code == 404
    after = await scrape(client, keys["admin"])

    route = {"route": "/v1/claims/{claim_id}", "method": "GET"}
    counted = "claims_http_requests_total"
    assert value(after, counted, **route, status="404") - value(before, counted, **route, status="404") == 3
    assert value(after, counted, **route, status="200") - value(before, counted, **route, status="200") == 1
    unrouted = {"route": "unrouted", "method": "GET", "status": "404"}
    assert value(after, counted, **unrouted) - value(before, counted, **unrouted) == 1
    assert not any("123456" in str(labels) for _, labels in after)  # ids never become labels
    timed = "claims_http_request_duration_seconds_count"
    assert value(after, timed, **route) - value(before, timed, **route) == 4
    inf = value(after, "claims_http_request_duration_seconds_bucket", **route, le="+Inf")
    assert inf == value(after, timed, **route)
    assert value(after, "claims_db_pool_connections") >= 1


async def test_graphql_operations_are_counted_by_name_and_outcome(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    before = await scrape(client, keys["admin"])
    ok = {"query": "query Feed { claims(first: 1) { edges { node { id } } } }", "operationName": "Feed"}
    assert "errors" not in (await client.post("/graphql", json=ok)).json()
    bad = {"query": "query Broken { claims(first: 0) { edges { node { id } } } }", "operationName": "Broken"}
    assert "errors" in (await client.post("/graphql", json=bad)).json()
    assert (await client.post("/graphql", json={"query": "{ __typename }", "variables": 5})).status_code == 400
    after = await scrape(client, keys["admin"])

    def delta(operation: str, outcome: str) -> float:
        name = "claims_graphql_operations_total"
        return value(after, name, operation=operation, outcome=outcome) - value(
            before, name, operation=operation, outcome=outcome
        )

    assert (delta("Feed", "ok"), delta("Broken", "error"), delta("other", "refused")) == (1, 1, 1)
    posts = {"route": "/graphql", "method": "POST", "status": "200"}  # a plain Starlette route
    counted = "claims_http_requests_total"
    assert value(after, counted, **posts) - value(before, counted, **posts) == 2


async def test_imports_and_statement_timeouts_are_counted(
    client: httpx.AsyncClient, keys: dict[str, str], db: Database
) -> None:
    before = await scrape(client, keys["admin"])
    lines = json.dumps({"source": {"kind": "statement", "title": "Counted"}}) + "\n{broken\n"
    imported = await client.post("/v1/import", content=lines, headers={"Content-Type": "application/x-ndjson"})
    assert imported.status_code == 200, imported.text
    with pytest.raises(StatementTimeout):
        async with db.transaction() as tx:
            await tx.execute("SET LOCAL statement_timeout = 20")
            await tx.execute("SELECT pg_sleep(1)")
    after = await scrape(client, keys["admin"])

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("claims_import_records_total", outcome="created") == 1
    assert delta("claims_import_records_total", outcome="failed") == 1
    assert delta("claims_db_statement_timeouts_total") == 1


@pytest.fixture
async def limited(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(settings, rate_limit_per_minute=2, rate_limit_batch=1, metrics="public"), database=db)
    async with app.router.lifespan_context(app):
        await settled(app)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            yield http


async def test_rate_limit_refusals_are_counted(limited: httpx.AsyncClient) -> None:
    before = samples((await limited.get("/metrics")).text)  # /metrics itself is never limited
    statuses = [(await limited.get("/v1/topics")).status_code for _ in range(3)]
    assert statuses[-1] == 429, statuses
    after = samples((await limited.get("/metrics")).text)
    name = "claims_rate_limit_refusals_total"
    assert value(after, name) - value(before, name) == statuses.count(429)


async def test_metrics_need_an_admin_key_unless_configured_otherwise(
    anonymous: httpx.AsyncClient, keys: dict[str, str], db: Database, settings: Settings
) -> None:
    assert (await anonymous.get("/metrics")).status_code == 401
    assert (await anonymous.get("/metrics", headers={"X-API-Key": keys["write"]})).status_code == 403
    assert (await anonymous.get("/metrics", headers={"X-API-Key": keys["admin"]})).status_code == 200
    for setting, status in (("public", 200), ("off", 404)):
        app = create_app(replace(settings, metrics=setting), database=db)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            assert (await http.get("/metrics")).status_code == status


def test_open_websockets_are_a_gauge(server_dsn: str, db: Database) -> None:
    app: FastAPI = create_app(
        Settings(database_url=server_dsn, load_demo=False, rate_limit_per_minute=0, metrics="public")
    )
    with serve_in_thread(app) as base:

        def open_sockets() -> float:
            return value(samples(httpx.get(base + "/metrics").text), "claims_websocket_connections")

        async def during() -> tuple[float, float]:
            before = open_sockets()
            url = base.replace("http", "ws", 1) + "/graphql"
            async with connect(url, subprotocols=["graphql-transport-ws"]) as conn:  # type: ignore[list-item]
                await conn.send(json.dumps({"type": "connection_init", "payload": {}}))
                await asyncio.wait_for(conn.recv(), 10)
                return before, open_sockets()

        before, while_open = asyncio.run(during())
        assert while_open - before == 1
        deadline = time.monotonic() + 10
        while open_sockets() != before and time.monotonic() < deadline:
            time.sleep(0.05)  # the server sees the close a moment after the client
        assert open_sockets() == before


COUNT_ONE = """
from api import metrics
metrics.REQUESTS.labels("/v1/claims/{claim_id}", "GET", "200").inc()
"""
SCRAPE = "from api import metrics; import sys; sys.stdout.write(metrics.exposition()[0].decode())"


def test_workers_share_their_figures_through_the_multiprocess_folder(tmp_path: Path) -> None:
    """What `claims serve --workers N` sets up: every worker's counts reach whichever answers a scrape."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", COUNT_ONE], env=env, cwd=ROOT, check=True, timeout=60)
    text = subprocess.run(
        [sys.executable, "-c", SCRAPE], env=env, cwd=ROOT, check=True, capture_output=True, text=True, timeout=60
    ).stdout
    found = samples(text)
    route = {"route": "/v1/claims/{claim_id}", "method": "GET", "status": "200"}
    assert value(found, "claims_http_requests_total", **route) == 2


def test_the_metrics_setting_takes_admin_public_or_off() -> None:
    assert Settings.from_env({"CLAIMS_METRICS": "Public"}).metrics == "public"
    with pytest.raises(ValueError, match="CLAIMS_METRICS"):
        Settings.from_env({"CLAIMS_METRICS": "yes"})
