"""`/v1/topics`: the topics, and the claims filed under one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from api.auth import ReadCaller
from api.deps import DbDep, SettingsDep
from api.errors import Problem
from api.rest.common import LIST_CACHE, LIST_HEADERS, OPTIONAL_KEY, ClaimQueryDep, cached, next_link, problems
from db import claims as claim_store
from db import topics as store
from db.filters import CursorError
from schema.claims import ClaimPage
from schema.sources import TopicPage

router = APIRouter(prefix="/v1/topics", tags=["topics"])


@router.get(
    "",
    operation_id="listTopics",
    summary="List topics",
    response_model=TopicPage,
    responses={200: {"headers": LIST_HEADERS}, 304: {"description": "Not modified."}, **problems(400)},
    openapi_extra=OPTIONAL_KEY,
)
async def list_topics(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    caller: ReadCaller,
    limit: Annotated[int, Query(description="Page size, 1–100.", ge=1, le=100, examples=[100])] = 100,
    cursor: Annotated[
        str | None,
        Query(
            description="Opaque cursor from a previous page's `next_cursor`.", examples=["dG9waWNzfGE"], max_length=200
        ),
    ] = None,
) -> Response:
    """Every topic in slug order, with how many live claims are filed under it."""
    after = None
    if cursor:
        try:
            after = store.topic_cursor(cursor)
        except CursorError as exc:
            errors = [{"field": "query.cursor", "message": str(exc)}]
            raise Problem(400, str(exc), kind="invalid-cursor", errors=errors) from exc
    page = await store.list_topics(db, after=after, limit=limit)
    return cached(
        request, page.body, cache=LIST_CACHE, headers=next_link(request, page.next_cursor, settings.public_url)
    )


@router.get(
    "/{slug}/claims",
    operation_id="listTopicClaims",
    summary="List a topic's claims",
    response_model=ClaimPage,
    responses={200: {"headers": LIST_HEADERS}, 304: {"description": "Not modified."}, **problems(400, 404)},
    openapi_extra=OPTIONAL_KEY,
)
async def list_topic_claims(
    request: Request,
    slug: Annotated[
        str,
        Path(
            description="The topic's slug.",
            examples=["ukraine-crisis"],
            pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
            max_length=100,
        ),
    ],
    query: ClaimQueryDep,
    db: DbDep,
    settings: SettingsDep,
    caller: ReadCaller,
) -> Response:
    """Claims filed under the topic, with the same filters, ordering and pages as `GET /v1/claims`."""
    page = await claim_store.list_claims(
        db, query.filter, sort=query.sort, after=query.after, limit=query.limit, scope=("topic", slug)
    )
    if page.owner is None:
        raise Problem(404, f"No topic {slug!r}.")
    link = next_link(request, page.next_cursor, settings.public_url)
    return cached(request, page.body, cache=LIST_CACHE, headers=link)
