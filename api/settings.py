"""Settings: every one is an environment variable `CLAIMS_…`, documented in the README.

A test (tests/test_readme.py) fails when a setting here is missing from the README.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """What the app reads from its environment; `from_env` is the only constructor the app uses."""

    database_url: str | None = None  # CLAIMS_DATABASE_URL: a PostgreSQL URL; unset → embedded server
    data_dir: Path = Path(".claims")  # CLAIMS_DATA_DIR: where the embedded server keeps its data
    load_demo: bool = True  # CLAIMS_LOAD_DEMO: load the demo article on first start
    statement_timeout_ms: int = 5000  # CLAIMS_STATEMENT_TIMEOUT_MS
    request_timeout_s: float = 15.0  # CLAIMS_REQUEST_TIMEOUT_S
    keep_alive_s: int = 120  # CLAIMS_KEEP_ALIVE_S: how long an idle HTTP connection stays open
    pool_min_size: int = 2  # CLAIMS_POOL_MIN_SIZE
    pool_max_size: int = 10  # CLAIMS_POOL_MAX_SIZE
    max_body_bytes: int = 2_000_000  # CLAIMS_MAX_BODY_BYTES: cap for JSON bodies
    max_import_line_bytes: int = 2_000_000  # CLAIMS_MAX_IMPORT_LINE_BYTES: cap per NDJSON line
    require_key_for_reads: bool = False  # CLAIMS_REQUIRE_KEY_FOR_READS
    rate_limit_per_minute: int = 600  # CLAIMS_RATE_LIMIT_PER_MINUTE: 0 turns rate limiting off
    redis_url: str | None = None  # CLAIMS_REDIS_URL: keep rate-limit counters in Redis
    rate_limit_batch: int = 20  # CLAIMS_RATE_LIMIT_BATCH: hits a worker reserves at once; 1 = exact counts
    api_key_cache_s: float = 30.0  # CLAIMS_API_KEY_CACHE_S: trust a checked key this long (revocation delay)
    cors_origins: tuple[str, ...] = field(default_factory=tuple)  # CLAIMS_CORS_ORIGINS: comma-separated
    graphql_introspection: bool = True  # CLAIMS_GRAPHQL_INTROSPECTION
    graphql_max_depth: int = 12  # CLAIMS_GRAPHQL_MAX_DEPTH
    graphql_max_aliases: int = 30  # CLAIMS_GRAPHQL_MAX_ALIASES
    graphql_max_tokens: int = 2000  # CLAIMS_GRAPHQL_MAX_TOKENS
    graphql_max_cost: int = 50_000  # CLAIMS_GRAPHQL_MAX_COST
    graphql_trusted_documents: str | None = (
        None  # CLAIMS_GRAPHQL_TRUSTED_DOCUMENTS: JSON {sha256: document}; only those run
    )
    log_level: str = "INFO"  # CLAIMS_LOG_LEVEL
    log_sql: bool = False  # CLAIMS_LOG_SQL: log every statement (never its parameters)
    public_url: str | None = None  # CLAIMS_PUBLIC_URL: base for absolute links (Location, Link)
    metrics: str = "admin"  # CLAIMS_METRICS: GET /metrics for admin keys, `public`, or `off`

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read every `CLAIMS_<FIELD>` that is set; the rest keep their defaults."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(env_name(f.name))
            if raw is None or raw == "":
                continue
            default = None if f.default is MISSING else f.default
            kind: type[Any] = type(default) if default is not None else str
            try:
                values[f.name] = _parse(f.name, kind, raw)
            except ValueError as exc:
                raise ValueError(f"{env_name(f.name)}={raw!r}: {exc}") from None
        return cls(**values)  # type: ignore[arg-type]


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
METRICS = ("admin", "public", "off")


def _parse(name: str, kind: type[Any], raw: str) -> object:
    if name == "cors_origins":
        return tuple(o.strip() for o in raw.split(",") if o.strip())
    if name == "data_dir":
        return Path(raw)
    if name == "metrics":
        if raw.strip().lower() not in METRICS:
            raise ValueError(f"expected one of {', '.join(METRICS)}")
        return raw.strip().lower()
    if name == "log_level":  # any case, as logging's own names
        if raw.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)} (any case)")
        return raw.strip().upper()
    if kind is bool:
        return _bool(raw)
    if kind is int:
        return int(raw)
    if kind is float:
        return float(raw)
    return raw


def env_name(field_name: str) -> str:
    """``env_name("database_url") == "CLAIMS_DATABASE_URL"``."""
    return "CLAIMS_" + field_name.upper()
