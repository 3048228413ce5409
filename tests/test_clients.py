"""`make clients`: TypeScript types generated from schema/schema.graphql (GraphQL Code Generator) and
openapi/openapi.json (openapi-typescript), with an example of each checked by `tsc --strict`.

It needs npm (once, to install clients/package-lock.json); without it this test fails and says so:
a typed client that was never built is not a passing check.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_clients_generates_types_that_the_examples_type_check_against() -> None:
    assert shutil.which("npm"), "npm is needed to install clients/package-lock.json (make clients)"
    out = subprocess.run(
        ["make", "--no-print-directory", "clients"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    generated = ROOT / "clients" / "src" / "generated"
    operations = (generated / "graphql" / "graphql.ts").read_text()
    for name in ("FeedQuery", "ClaimPageQuery", "NodeCardQuery", "ClaimAddedSubscription", "CreateClaimMutation"):
        assert f"export type {name} " in operations, name
    assert "export type ClaimInput = {" in operations
    assert '"/v1/claims/{claim_id}": {' in (generated / "openapi.ts").read_text()
