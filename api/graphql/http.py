"""GraphQL over HTTP (graphql.github.io/graphql-over-http): which media type answers, and the
caching a GET gets.

- ``Accept`` picks the response's media type: ``application/graphql-response+json`` when the client
  accepts it at least as much as ``application/json`` (its status codes then say what went wrong:
  400 for a document that does not parse or validate), else ``application/json`` (always 200 for a
  well-formed request, as older clients expect). No ``Accept``, ``*/*`` and ``application/*`` mean
  ``application/json``; an ``Accept`` naming neither is a 406.
- A query over GET is cacheable like a REST read: a strong ``ETag`` of the body,
  ``Cache-Control: public, max-age=30``, and a ``304`` for a matching ``If-None-Match``. Answers with
  errors, and POSTs, are ``no-store``.
- A mutation over GET is a 405 with ``Allow: POST``.
"""

from __future__ import annotations

import functools

from api.rest.common import ITEM_CACHE, LIST_CACHE, NO_STORE, cached_answer
from api.routing import Answer

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"


@functools.lru_cache(maxsize=256)  # a client sends the same header every time
def negotiate(accept: str | None) -> str | None:
    """The media type to answer with for this ``Accept`` header; None when it accepts neither."""
    if not accept or not accept.strip():
        return JSON
    best: dict[str, float] = {}
    for item in accept.split(","):
        kind, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = kind.lower()
        if kind in (GRAPHQL_RESPONSE, JSON):
            best[kind] = max(best.get(kind, 0.0), q)
        elif kind in ("*/*", "application/*"):
            best.setdefault(JSON, q)
    chosen = max(best, key=lambda k: (best[k], k == GRAPHQL_RESPONSE), default=None)
    return chosen if chosen is not None and best[chosen] > 0 else None


def answer(payload: bytes, status: int, media_type: str, *, get: bool, if_none_match: str | None) -> Answer:
    """The HTTP answer of an executed request."""
    if get and status == 200 and not payload.startswith(b'{"errors"'):
        return cached_answer(if_none_match, payload, cache=LIST_CACHE, media_type=media_type)
    headers = [(b"cache-control", NO_STORE.encode()), (b"vary", b"Accept")]
    if status == 405:
        headers.append((b"allow", b"POST"))
    headers += [(b"content-length", b"%d" % len(payload)), (b"content-type", media_type.encode())]
    return Answer(status, headers, payload)


def sdl_answer(sdl: bytes, if_none_match: str | None) -> Answer:
    """``GET /graphql/schema.graphql``: the schema's SDL, revalidated by its ETag."""
    return cached_answer(if_none_match, sdl, cache=ITEM_CACHE, media_type="text/plain; charset=utf-8")
