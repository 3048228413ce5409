"""Per-request GraphQL context, and the one way a resolver reads the store: `Reader`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from db.database import Database


class Reader(Protocol):
    """Reads, compiled into one statement (api/graphql/executor.py), what a mutation or a
    subscription answers: the fields of its own selection, by id, after the write or the event."""

    async def read_fields(self, db: Database, info: Any, type_name: str, ids: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON values of the fields of ``info``'s field (of ``type_name``) named in ``ids``
        (field name → a row id or a list of them), by response key."""
        ...

    async def read_object(self, db: Database, info: Any, row_id: int) -> Any:
        """The JSON value of ``info``'s own field, read by id (None when there is no such row)."""
        ...


@dataclass
class Context:
    """What every resolver sees as ``info.context``."""

    db: Database
    caller: Any = None
    settings: Any = None
    request: Any = None
    connection_params: Any = None  # a websocket's connection_init payload (strawberry sets it)
    reader: Reader | None = None  # set by the executor; else found on the app (`reader`)


def reader(context: Context) -> Reader:
    """The executor that reads for this request: set on the context, or the app's (websockets)."""
    if context.reader is not None:
        return context.reader
    found: Reader = context.request.app.state.graphql
    return found
