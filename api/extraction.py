"""`claims extract`: articles in, one NDJSON line per article out; `--write` imports as `claims load` does."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from tqdm import tqdm

from extract.document import Meta, extract
from extract.inputs import Item, read
from extract.text import ExtractError
from schema.documents import SourceDocument


def _error(ident: str, field: str, reason: str) -> dict[str, Any]:
    return {"id": ident, "error": {"field": field, "reason": reason}}


def validation_reason(exc: ValidationError) -> tuple[str, str]:
    """The first pydantic error as (dotted field, message)."""
    first = exc.errors()[0]
    return "document." + ".".join(str(p) for p in first["loc"]), first["msg"]


def line_for(item: Item) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The output line for one article and, when it succeeded, its validated document."""
    if item.error is not None:
        return _error(item.ident, item.error.field, item.error.reason), None
    try:
        result = extract(item.text, item.meta)
    except ExtractError as exc:
        return _error(item.ident, exc.field, exc.reason), None
    try:
        SourceDocument.model_validate(result.document)
    except ValidationError as exc:
        return _error(item.ident, *validation_reason(exc)), None
    return result.line(item.ident), result.document


def run(files: Iterable[Path], defaults: Meta, write: bool, quiet: bool, out: IO[str] | None = None) -> int:
    """Extracts every article of every file; returns the exit status (1 when no article succeeded)."""
    out = out or sys.stdout
    ok = failed = 0
    with tempfile.NamedTemporaryFile("w", suffix=".ndjson", encoding="utf-8", delete=False) as docs:
        bar = tqdm(desc="articles", unit=" articles", disable=quiet, file=sys.stderr)
        for path in files:
            for item in read(path, defaults):
                line, document = line_for(item)
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                if document is None:
                    failed += 1
                else:
                    ok += 1
                    if write:
                        docs.write(json.dumps(document, ensure_ascii=False) + "\n")
                bar.update(1)
        bar.close()
    documents = Path(docs.name)
    try:
        if write and ok:
            report = load_documents(documents, quiet)
            print(json.dumps(report), file=sys.stderr)
    finally:
        documents.unlink(missing_ok=True)
    print(json.dumps({"articles": ok + failed, "extracted": ok, "failed": failed}), file=sys.stderr)
    return 0 if ok or not failed else 1


def load_documents(path: Path, quiet: bool) -> dict[str, Any]:
    """Imports an NDJSON file of documents exactly as `claims load` does, and returns its summary."""
    from api.cli import _run, _with_db, resolve_dsn
    from api.importers import load_files
    from api.importers.loader import BATCH_DOCUMENTS
    from api.settings import Settings

    settings = Settings.from_env()
    report = _run(
        _with_db(
            settings,
            resolve_dsn(settings),
            lambda d: load_files(d, (path,), "ndjson", progress=not quiet, batch=BATCH_DOCUMENTS),
        )
    )
    summary: dict[str, Any] = report.summary()
    return summary
