"""The contracts as files: the OpenAPI document (openapi/openapi.json) and the GraphQL SDL.

Both are generated from the code, committed, and compared with the code by the tests, so every
API change shows up in review as a diff of the contract.
"""

from __future__ import annotations

import json
from typing import Any

from api.settings import Settings


def openapi_document() -> dict[str, object]:
    """The app's OpenAPI document, built without starting the app (no database is touched)."""
    from api.app import create_app

    app = create_app(Settings(load_demo=False, database_url="postgresql://unused"))
    return app.openapi()


def openapi_text() -> str:
    """`openapi/openapi.json`: pretty, keys sorted, one trailing newline."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def graphql_sdl(schema: Any = None) -> str:
    """`schema/schema.graphql`: the schema /graphql serves (or ``schema``), printed; one trailing newline.

    Built as the app builds it (its extensions change no types). Strawberry's printer writes the
    types sorted by name and each type's fields in declaration order, so the text depends on the
    code alone, never on hash seeds or import order.
    """
    from strawberry.printer import print_schema

    if schema is None:
        from api.graphql import build

        schema, _ = build(Settings(load_demo=False, database_url="postgresql://unused"))
    return print_schema(schema).rstrip("\n") + "\n"
