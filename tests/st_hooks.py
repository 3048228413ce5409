"""schemathesis hooks shared by tests/test_schemathesis.py and `make fuzz` (`hooks` in
scripts/schemathesis.toml): an NDJSON serializer for `POST /v1/import`, and no made-up cursors."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    """A generated NDJSON body: text as it is, anything else as one JSON line."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode() + b"\n"


@schemathesis.hook
def filter_query(ctx: Any, query: dict[str, Any] | None) -> bool:
    """A generated cursor is one this API never issued (400 by design); real ones come from links."""
    return not query or "cursor" not in query
