"""The GraphQL contract: `schema/schema.graphql` is the schema /graphql serves, printed the same
way every time (`make schema` writes it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from graphql import build_schema, find_breaking_changes, find_dangerous_changes
from strawberry.printer import print_schema

from api.contracts import graphql_sdl
from api.graphql import build
from api.settings import Settings
from schema.graphql.core import core_schema

ROOT = Path(__file__).resolve().parents[1]
SDL = ROOT / "schema" / "schema.graphql"


def test_the_committed_sdl_matches_the_app() -> None:
    assert SDL.is_file(), "schema/schema.graphql is missing: run `make schema` and commit it"
    assert SDL.read_text(encoding="utf-8") == graphql_sdl(), "run `make schema` and commit schema/schema.graphql"


def test_the_sdl_is_the_schema_every_app_serves() -> None:
    for settings in (Settings(), Settings(graphql_introspection=False)):
        schema, _ = build(settings)
        assert print_schema(schema) + "\n" == graphql_sdl()
    served = core_schema(build(Settings())[0])
    written = build_schema(SDL.read_text(encoding="utf-8"))
    assert find_breaking_changes(served, written) == [] and find_dangerous_changes(served, written) == []


def test_the_sdl_is_the_same_under_any_hash_seed() -> None:
    texts = set()
    for seed in ("0", "1", "4242"):
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from api.contracts import graphql_sdl; sys.stdout.write(graphql_sdl())",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        texts.add(run.stdout)
    assert texts == {graphql_sdl()}


def test_the_sdl_names_the_contract_of_issue_4() -> None:
    text = graphql_sdl()
    for line in (
        "type Query {",
        "type Mutation {",
        "type Subscription {",
        "interface Node {",
        "union SearchResult = Claim | Entity",
        "input ClaimFilter {",
        "scalar DateTime",
    ):
        assert line in text, line
    for type_name in ("Claim", "Entity", "Source", "Appearance", "Topic", "EntityRole"):
        assert f"type {type_name} implements Node {{" in text, type_name
