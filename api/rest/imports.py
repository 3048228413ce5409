"""`POST /v1/import`: an NDJSON body of source documents, each line written in its own transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api import metrics
from api.auth import WriteCaller
from api.deps import DbDep, SettingsDep
from api.errors import Problem, validation_errors
from api.rest.common import JSON, NDJSON, NEEDS_KEY, NO_STORE, problems
from api.rest.export import EXAMPLE_LINE, LINES_SCHEMA
from db.database import Database
from db.documents import DocumentError, Statistics, write_source_document
from schema.documents import SourceDocument
from schema.sources import ImportLine, ImportReport

router = APIRouter(prefix="/v1", tags=["bulk"])

ACCEPTED = {NDJSON, "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/json-lines"}


async def body_lines(request: Request, cap: int) -> AsyncIterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` for each line of the body as it streams in; ``None`` for a line over
    ``cap`` bytes, whose rest is skipped unread into memory. Memory stays within one line."""
    buffer = bytearray()
    number, too_long = 0, False
    async for chunk in request.stream():
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            number += 1
            if not too_long:
                buffer += chunk[start:end]
            yield number, None if too_long or len(buffer) > cap else bytes(buffer)
            buffer.clear()
            too_long, start = False, end + 1
        if not too_long:
            buffer += chunk[start:]
            if len(buffer) > cap:
                too_long = True
                buffer.clear()
    if buffer or too_long:
        yield number + 1, None if too_long else bytes(buffer)


async def import_line(db: Database, number: int, line: bytes | None, cap: int) -> ImportLine | None:
    """Validate and write one line; None for a blank line."""
    if line is None:
        message = f"the line is longer than {cap} bytes"
        return ImportLine(line=number, status="error", source_id=None, errors=[{"field": "", "message": message}])
    if not line.strip():
        return None
    try:
        document = SourceDocument.model_validate_json(line)
        result = await write_source_document(db, document)
    except ValidationError as exc:
        return ImportLine(line=number, status="error", source_id=None, errors=validation_errors(exc.errors()))
    except DocumentError as exc:
        errors = [{"field": exc.field, "message": exc.message}]
        return ImportLine(line=number, status="error", source_id=None, errors=errors)
    status = "created" if result.changed else "unchanged"
    return ImportLine(line=number, status=status, source_id=result.source_id, errors=[])


@router.post(
    "/import",
    operation_id="importSources",
    summary="Import source documents (NDJSON)",
    response_model=ImportReport,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "One `SourceDocument` per line (the format `GET /v1/export` produces).",
            "content": {NDJSON: {"schema": LINES_SCHEMA, "example": EXAMPLE_LINE}},
        }
    },
    responses={200: {"description": "Each line's outcome."}, **problems(write=True)},
    dependencies=NEEDS_KEY,
)
async def import_sources(request: Request, db: DbDep, settings: SettingsDep, caller: WriteCaller) -> Response:
    """Writes each line as `POST /v1/sources` would, in its own transaction, and reports every
    line's outcome: `created`, `unchanged` or `error` with the offending fields. A bad line never
    blocks the good ones, and re-running an import is safe (writes are idempotent). The body is
    read as it arrives, one line at a time (each at most `CLAIMS_MAX_IMPORT_LINE_BYTES`)."""
    media = request.headers.get("content-type", NDJSON).split(";")[0].strip().lower()
    if media not in ACCEPTED:
        raise Problem(415, f"Send NDJSON ({NDJSON}), one source document per line; got {media!r}.")
    cap = settings.max_import_line_bytes
    report = ImportReport(created=0, unchanged=0, failed=0, lines=[])
    statistics = Statistics(db)
    async for number, line in body_lines(request, cap):
        outcome = await import_line(db, number, line, cap)
        if outcome is None:
            continue
        report.lines.append(outcome)
        if outcome.status == "created":
            report.created += 1
            await statistics.written()
        elif outcome.status == "unchanged":
            report.unchanged += 1
        else:
            report.failed += 1
    metrics.imported(report.created, report.unchanged, report.failed)
    return Response(report.model_dump_json().encode(), media_type=JSON, headers={"Cache-Control": NO_STORE})
