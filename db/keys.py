"""API keys: ``cb_<prefix>_<secret>``, stored as a SHA-256 hash; only the prefix is ever shown again.

The secret is 256 bits from `secrets`, so a plain SHA-256 is the standard storage for it (as for
GitHub and Stripe tokens): a slow hash (scrypt, argon2) protects guessable passwords, and nobody can
guess 2**256. A stolen table therefore yields no usable key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from db.database import Database

SCOPES = ("read", "write", "admin")
KEY_FORMAT = re.compile(r"\Acb_([0-9a-f]{12})_([0-9a-f]{64})\Z")

INSERT_KEY = """
INSERT INTO api_key (prefix, hash, name, scopes) VALUES ($1, $2, $3, $4)
RETURNING id, prefix, name, scopes, created_at, revoked_at, last_used_at
"""

LIST_KEYS = """
SELECT id, prefix, name, scopes, created_at, revoked_at, last_used_at FROM api_key ORDER BY id
"""

REVOKE_KEY = "UPDATE api_key SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL"

# Verifying and recording use in one round trip. Comparing hashes in SQL is not a timing oracle:
# the attacker controls the secret, not its SHA-256, so a timing leak says nothing usable.
USE_KEY = """
UPDATE api_key SET last_used_at = now()
WHERE prefix = $1 AND hash = $2 AND revoked_at IS NULL
RETURNING id, scopes
"""


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    id: int
    prefix: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``secret`` is the whole ``cb_<prefix>_<secret>`` token, shown once."""

    key: ApiKey
    secret: str

    @property
    def prefix(self) -> str:
        return self.key.prefix


@dataclass(frozen=True)
class VerifiedKey:
    """A key that matched an active row."""

    id: int
    prefix: str
    scopes: frozenset[str]


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 of the whole ``cb_…`` string."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_token(token: str) -> str | None:
    """The prefix of a well-formed token, else None: ``parse_token("cb_0123456789ab_…") == "0123456789ab"``."""
    match = KEY_FORMAT.match(token)
    return match.group(1) if match else None


def new_token() -> tuple[str, str]:
    """A fresh ``(prefix, token)``: 48 bits of prefix to find the row, 256 bits of secret."""
    prefix = secrets.token_hex(6)
    return prefix, f"cb_{prefix}_{secrets.token_hex(32)}"


async def create_key(db: Database, scopes: list[str], name: str = "") -> NewKey:
    """Store a new key with ``scopes``; the returned ``secret`` is the only copy of the token."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {sorted(scopes)}")
    prefix, token = new_token()
    row = await db.fetchrow(INSERT_KEY, prefix, hash_token(token), name, sorted(set(scopes)))
    assert row is not None
    return NewKey(ApiKey(**dict(row)), token)


async def list_keys(db: Database) -> list[ApiKey]:
    """Every key, oldest first (prefixes and state; secrets are not stored)."""
    return [ApiKey(**dict(row)) for row in await db.fetch(LIST_KEYS)]


async def revoke_key(db: Database, prefix: str) -> bool:
    """Revoke the active key with ``prefix``; False when there is none."""
    return await db.execute(REVOKE_KEY, prefix) == "UPDATE 1"


async def use_key(db: Database, token: str) -> VerifiedKey | None:
    """The active key ``token`` names (recording its use), or None for a malformed, unknown or revoked one."""
    prefix = parse_token(token)
    if prefix is None:
        return None
    row = await db.fetchrow(USE_KEY, prefix, hash_token(token))
    if row is None:
        return None
    return VerifiedKey(row["id"], prefix, frozenset(row["scopes"]))
