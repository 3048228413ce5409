"""Persisted queries: a request may name its document by hash instead of sending its text.

Two modes, as Apollo and GraphQL Code Generator spell them:

- **Automatic persisted queries** (always on): a request carries
  ``"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}`` and no ``query``. A
  hash this worker has seen answers as if the text had been sent; an unknown one answers the error
  ``PersistedQueryNotFound`` (code ``PERSISTED_QUERY_NOT_FOUND``), and the client sends the hash with
  the text once, which registers it. Each worker keeps its own bounded table, so a client may be
  asked for the text once per worker; over GET this makes queries short enough for CDN caching.
- **Trusted documents** (``CLAIMS_GRAPHQL_TRUSTED_DOCUMENTS``: a JSON file ``{"<sha256>": "<document>"}``,
  the ``persisted-documents.json`` GraphQL Code Generator's client preset writes): only those
  documents run. A request names one by ``documentId`` (``"sha256:<hex>"``), by the APQ extension, or
  sends its exact text; anything else is refused with ``PERSISTED_QUERY_NOT_IN_LIST``, and nothing
  is registered.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
from cachetools import LRUCache
from graphql import GraphQLError

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
REMEMBERED = 10_000  # automatic persisted queries one worker keeps (least recently used go first)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_trusted(path: str) -> dict[str, str]:
    """The trusted documents of a manifest file; a clear ValueError when it is not one."""
    try:
        manifest = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the trusted documents {path!r}: {exc}") from None
    if not isinstance(manifest, dict) or not all(isinstance(v, str) for v in manifest.values()):
        raise ValueError(f"{path!r} must be a JSON object of sha256 hash → document text")
    for key, text in manifest.items():
        if sha256(text) != key.removeprefix("sha256:"):
            raise ValueError(f"{path!r}: {key[:16]}… is not the sha256 of its document")
    return {key.removeprefix("sha256:"): text for key, text in manifest.items()}


class Refused(Exception):
    """A request whose document cannot be found or may not run: a GraphQL request error."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code
        self.error = GraphQLError(message, extensions={"code": code})


class PersistedQueries:
    """Finds each request's document: its text, or the one its hash names."""

    def __init__(self, trusted_path: str | None = None) -> None:
        self.trusted = load_trusted(trusted_path) if trusted_path else None
        self.remembered: LRUCache[str, str] = LRUCache(REMEMBERED)

    def query_of(self, body: dict[str, Any]) -> Any:
        """The document text to run (or whatever ``query`` holds, for the caller to judge); `Refused`."""
        query = body.get("query")
        wanted = self._hash(body)
        if wanted is None:
            if self.trusted is not None and isinstance(query, str) and sha256(query) not in self.trusted:
                raise Refused("only trusted documents run on this server; send a documentId", NOT_IN_LIST)
            return query
        if isinstance(query, str):
            if sha256(query) != wanted:
                raise Refused("provided sha does not match query", "BAD_REQUEST")
            if self.trusted is not None and wanted not in self.trusted:
                raise Refused("only trusted documents run on this server", NOT_IN_LIST)
            self._remember(wanted, query)
            return query
        if query is not None:
            return query  # not a string: the executor says so
        known = self.trusted.get(wanted) if self.trusted is not None else self.remembered.get(wanted)
        if known is None:
            raise Refused("PersistedQueryNotFound", NOT_FOUND)
        return known

    def _hash(self, body: dict[str, Any]) -> str | None:
        document_id = body.get("documentId")
        if document_id is not None:
            if not isinstance(document_id, str) or not document_id.startswith("sha256:"):
                raise Refused('`documentId` must be "sha256:" and the document\'s hash', "BAD_REQUEST")
            return document_id.removeprefix("sha256:").lower()
        extensions = body.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            raise Refused("`extensions` must be an object", "BAD_REQUEST")
        persisted = extensions.get("persistedQuery") if extensions is not None else None
        if persisted is None:
            return None
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise Refused("Unsupported persisted query version", "BAD_REQUEST")
        wanted = persisted.get("sha256Hash")
        if not isinstance(wanted, str) or len(wanted) != 64:
            raise Refused("`sha256Hash` must be 64 hex digits", "BAD_REQUEST")
        return wanted.lower()

    def _remember(self, key: str, query: str) -> None:
        if self.trusted is None:
            self.remembered[key] = query
