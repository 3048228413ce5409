"""Sustained load: a mixed read/write workload against two API workers for 60 s (10 min under
`make soak`) answers every request as expected, and the workers' memory stays flat.

Reads follow what integrations and front ends do — REST lists with filters and cursors, single
claims with ETags, entity search, sources, the GraphQL feed — while writers post new documents and
re-post known ones. Every response must be 2xx or 304. The workers' resident memory is read from
/proc at the start (after a warm-up, so first-use imports and caches are not counted as growth)
and at the end; the bound is generous on purpose: it catches a leak, not a slow allocator.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from db.database import Database
from db.keys import create_key
from tests.reliability.serving import claims_server, rss_kb

SOAKING = os.environ.get("CLAIMS_SOAK", "") not in ("", "0")
DURATION_S = 600.0 if SOAKING else 60.0
WARM_UP_S = 5.0
READERS = 10
WRITERS = 3
SEED_DOCUMENTS = 40
FEED = """query Feed($first: Int!, $after: String) {
  claims(first: $first, after: $after) {
    edges {
      cursor
      node { id content saidAt speakers { role entity { name } } appearances { source { title publisher { name } } } }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""
PERSON_PAGE = """query Person($search: String!) {
  entities(search: $search, first: 3) {
    edges { node { name aliases claims(first: 5) { edges { node { content } } } } }
  }
}"""
SPEAKERS = [("Ada", "Lindqvist"), ("Bruno", "Ferreira"), ("Chen", "Wei"), ("Dana", "Kovač"), ("Emeka", "Obi")]


def document(n: int, rng: random.Random) -> dict[str, Any]:
    """A small article of two or three claims; ``n`` makes it new, a repeated ``n`` makes it known."""
    claims = []
    for j in range(2 + n % 2):
        given, surname = SPEAKERS[(n + j) % len(SPEAKERS)]
        content = f"load quote {n}-{j}: we will report on item {rng.randrange(10**6)}"
        claims.append(
            {
                "content": content,
                "said_at": f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}",  # before the publication
                "speakers": [{"entity": {"name": f"{given} {surname}", "kind": "person", "aliases": [surname]}}],
                "mentions": [{"name": "Load Town", "kind": "place"}],
                "topics": [f"load-{n % 4}"],
                "appearance": {"quote": content},
            }
        )
    return {
        "source": {
            "kind": "news_article",
            "title": f"Load article {n}",
            "url": f"https://load.example/{n}",
            "publisher": {"name": f"Load Outlet {n % 3}", "kind": "organization"},
            "published_at": "2025-11-26T09:00:00Z",
        },
        "claims": claims,
    }


class Workload:
    """Readers and writers against one server until ``stop``; every status is tallied per endpoint."""

    def __init__(self, http: httpx.AsyncClient, key: str, known: list[dict[str, Any]]) -> None:
        self.http = http
        self.key = key
        self.known = known
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.unexpected: list[str] = []
        self.stop = asyncio.Event()
        self.next_new = 100_000

    def record(self, name: str, response: httpx.Response, expected: tuple[int, ...] = (200,)) -> None:
        self.statuses[(name, response.status_code)] += 1
        if response.status_code not in expected and len(self.unexpected) < 20:
            self.unexpected.append(f"{name}: {response.status_code} {response.text[:300]}")

    async def reader(self, seed: int) -> None:
        rng = random.Random(seed)
        etags: dict[str, str] = {}
        while not self.stop.is_set():
            pick = rng.randrange(7)
            if pick == 0:
                response = await self.http.get("/v1/claims", params={"limit": rng.choice([5, 20, 100])})
                self.record("list claims", response)
                cursor = response.json().get("next_cursor") if response.status_code == 200 else None
                if cursor:
                    self.record("next page", await self.http.get("/v1/claims", params={"cursor": cursor}))
            elif pick == 1:
                _, surname = rng.choice(SPEAKERS)
                params: dict[str, str | int] = {
                    "q": "report item",
                    "said_after": "2024-03-01",
                    "kind": "direct_quote",
                    "limit": 10,
                }
                self.record("filtered claims", await self.http.get("/v1/claims", params=params))
                self.record("entity search", await self.http.get("/v1/entities", params={"q": surname[:4]}))
            elif pick == 2:
                claim_id = rng.randrange(1, 60)
                path = f"/v1/claims/{claim_id}"
                headers = {"If-None-Match": etags[path]} if path in etags else {}
                response = await self.http.get(path, headers=headers)
                self.record("one claim", response, (200, 304))
                if response.status_code == 200:
                    etags[path] = response.headers["etag"]
            elif pick == 3:
                self.record("sources", await self.http.get("/v1/sources", params={"limit": 10}))
                self.record("topic claims", await self.http.get(f"/v1/topics/load-{rng.randrange(4)}/claims"))
            elif pick == 4:
                variables: dict[str, Any] = {"first": rng.choice([5, 20])}
                response = await self.http.post("/graphql", json={"query": FEED, "variables": variables})
                self.record("graphql feed", response)
                body = response.json() if response.status_code == 200 else {}
                if "errors" in body:
                    self.unexpected.append(f"graphql feed: {str(body['errors'])[:300]}")
                end = ((body.get("data") or {}).get("claims") or {}).get("pageInfo", {}).get("endCursor")
                if end:
                    variables["after"] = end
                    self.record(
                        "graphql next", await self.http.post("/graphql", json={"query": FEED, "variables": variables})
                    )
            elif pick == 5:
                _, surname = rng.choice(SPEAKERS)
                response = await self.http.post(
                    "/graphql", json={"query": PERSON_PAGE, "variables": {"search": surname}}
                )
                self.record("graphql person", response)
                if "errors" in response.json():
                    self.unexpected.append(f"graphql person: {response.text[:300]}")
            else:
                self.record("healthz", await self.http.get("/readyz"))

    async def writer(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            if rng.random() < 0.5:
                self.next_new += 1
                doc = document(self.next_new, rng)
                expected: tuple[int, ...] = (201,)
            else:
                doc = rng.choice(self.known)
                expected = (200,)
            headers = {"X-API-Key": self.key}
            self.record("write", await self.http.post("/v1/sources", json=doc, headers=headers), expected)
            await asyncio.sleep(0.02)


def workers_rss(pids: list[int]) -> dict[int, int]:
    return {pid: rss_kb(pid) for pid in pids}


@pytest.mark.soak
@pytest.mark.load
async def test_mixed_load_on_two_workers_answers_without_error_and_memory_stays_flat(
    db: Database, server_dsn: str
) -> None:
    key = (await create_key(db, ["write"], name="sustained load")).secret
    rng = random.Random(3)
    known = [document(n, rng) for n in range(SEED_DOCUMENTS)]
    with claims_server(server_dsn, workers=2) as server:
        pids = server.workers()
        assert len(pids) == 2, pids
        limits = httpx.Limits(max_connections=READERS + WRITERS)
        async with httpx.AsyncClient(base_url=server.base, timeout=30, limits=limits) as http:
            for doc in known:
                response = await http.post("/v1/sources", json=doc, headers={"X-API-Key": key})
                assert response.status_code == 201, response.text[:300]
            load = Workload(http, key, known)
            tasks = [asyncio.create_task(load.reader(i)) for i in range(READERS)]
            tasks += [asyncio.create_task(load.writer(100 + i)) for i in range(WRITERS)]
            await asyncio.sleep(WARM_UP_S)
            start = workers_rss(pids)
            started = time.monotonic()
            samples = [start]
            while time.monotonic() - started < DURATION_S:
                await asyncio.sleep(min(10.0, DURATION_S / 6))
                assert all(not t.done() for t in tasks), (
                    [t.exception() for t in tasks if t.done()],
                    server.output(),
                )
                samples.append(workers_rss(pids))
            load.stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
            end = workers_rss(pids)
        log = server.output()

    total = sum(load.statuses.values())
    print(f"{total} requests in {DURATION_S:.0f} s:", dict(sorted(load.statuses.items())))
    for pid in pids:
        trail = " → ".join(f"{s[pid] / 1024:.0f}" for s in samples)
        print(f"worker {pid} RSS MB: start {start[pid] / 1024:.1f}, end {end[pid] / 1024:.1f} ({trail})")
    assert not load.unexpected, load.unexpected
    assert total > 200, "the workload hardly ran"
    assert {status for _, status in load.statuses} <= {200, 201, 304}
    assert "Traceback" not in log, log
    for pid in pids:
        assert end[pid] < 2 * start[pid] + 50 * 1024, f"worker {pid} grew from {start[pid]} kB to {end[pid]} kB"
