"""`POST /v1/extract`: claims from an article's text, answered as a source document; `write=true` imports it."""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth import ReadCaller, authorize
from api.deps import DbDep
from api.errors import Problem, validation_errors
from api.rest.common import JSON, NO_STORE, OPTIONAL_KEY, problems
from api.rest.sources import written
from db.documents import write_source_document
from extract.document import Meta, extract
from extract.parsing import PipelineMissing
from extract.text import ExtractError, decode
from schema.documents import IsoDate, SourceDocument, Url
from schema.extract import Extraction, ExtractRequest

router = APIRouter(prefix="/v1", tags=["extract"])

TEXT = "text/plain"
# spaCy does not promise that one pipeline may parse in several threads at once: one at a time per worker.
PARSING = threading.Lock()
EXAMPLE_TEXT = 'BERLIN, November 26. /TASS/. "We agreed to accelerate joint work," the joint statement says.'


def _problem(exc: ExtractError) -> Problem:
    return Problem(422, f"{exc.field} {exc.reason}", errors=[{"field": exc.field, "message": exc.reason}])


async def _request(request: Request) -> tuple[str, Meta]:
    media = request.headers.get("content-type", TEXT).split(";")[0].strip().lower()
    body = await request.body()
    if media == TEXT:
        try:
            return decode(body), Meta()
        except ExtractError as exc:
            raise _problem(exc) from None
    if media != JSON:
        raise Problem(415, f"Send the article as {TEXT} or as {JSON} with a `text` field; got {media!r}.")
    try:
        payload = ExtractRequest.model_validate_json(body)
    except ValidationError as exc:
        raise Problem(
            422, "The request body is not a valid extraction request.", errors=validation_errors(exc.errors())
        ) from None
    return payload.text, Meta(payload.title, payload.url, payload.publisher, payload.date)


def _run(text: str, meta: Meta) -> dict[str, Any]:
    with PARSING:
        return extract(text, meta).line(None)


@router.post(
    "/extract",
    operation_id="extractClaims",
    summary="Extract claims from an article's text",
    response_model=Extraction,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The article as plain text, or JSON with `text` and optional `title`, `date`, "
            "`publisher` and `url`.",
            "content": {
                TEXT: {"schema": {"type": "string"}, "example": EXAMPLE_TEXT},
                JSON: {"schema": ExtractRequest.model_json_schema(), "example": {"text": EXAMPLE_TEXT}},
            },
        },
        **OPTIONAL_KEY,
        "x-claims-scope": "read",  # answers without writing; `write=true` checks the write scope itself
    },
    responses={
        200: {"description": "The extraction (and, with `write=true`, what was written)."},
        **problems(write=True),
    },
)
async def extract_claims(
    request: Request,
    db: DbDep,
    caller: ReadCaller,
    write: Annotated[
        bool, Query(description="Also import the document (needs the `write` scope).", examples=[False])
    ] = False,
    publisher: Annotated[
        str | None, Query(max_length=500, description="Publisher's name (text/plain bodies).", examples=["TASS"])
    ] = None,
    date_: Annotated[
        IsoDate | None,
        Query(alias="date", description="Publication date (text/plain bodies).", examples=["2025-11-26"]),
    ] = None,
    url: Annotated[
        Url | None,
        Query(
            max_length=2000,
            description="The article's URL (text/plain bodies).",
            examples=["https://tass.com/world/2051789"],
        ),
    ] = None,
) -> Response:
    """Finds the dateline, the attributions (cue, source, content), their speakers and dates in an
    English news article and answers the source document `POST /v1/import` takes, with the spans
    behind each claim — the same answer as `claims extract`. Nothing is written unless `write=true`,
    which needs the `write` scope and imports the document as `POST /v1/sources` does (idempotent).
    Empty, binary, non-English or over-long text is a `422` saying why; HTML is reduced to its text."""
    if write:
        authorize(caller, "write")
    text, meta = await _request(request)
    meta.publisher = meta.publisher or publisher
    meta.published = meta.published or date_
    meta.url = meta.url or url
    try:
        answer = await run_in_threadpool(_run, text, meta)
    except ExtractError as exc:
        raise _problem(exc) from None
    except PipelineMissing as exc:
        raise Problem(503, str(exc)) from None
    try:
        document = SourceDocument.model_validate(answer["document"])
    except ValidationError as exc:
        raise Problem(422, "The extracted document is not valid.", errors=validation_errors(exc.errors())) from None
    if write:
        answer["written"] = json.loads(written(await write_source_document(db, document)).model_dump_json())
    return Response(
        json.dumps(answer, ensure_ascii=False).encode(), media_type=JSON, headers={"Cache-Control": NO_STORE}
    )
