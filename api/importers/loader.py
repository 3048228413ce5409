"""Reading files of any supported format and writing their documents, with a report and a progress bar."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from tqdm import tqdm

from api.importers.claimskg import HEADER as CLAIMSKG_HEADER
from api.importers.claimskg import read_claimskg
from api.importers.ndjson import read_ndjson
from api.importers.order import Order
from api.importers.quotebank import HEADER as QUOTEBANK_HEADER
from api.importers.quotebank import read_quotebank
from api.importers.records import Failure, Parsed, Progress
from db.bulk import batchable, write_documents
from db.database import Database, DatabaseUnavailable, StatementTimeout
from db.documents import DocumentError, Statistics, WriteResult, write_source_document
from db.footprints import Footprint
from schema.documents import SourceDocument

log = logging.getLogger("claims.load")

Reader = Callable[..., Iterator[Parsed]]
Batch = tuple[int, list[Parsed]]  # a chunk of records with its number in the file (`Order`)
FORMATS: dict[str, Reader] = {"ndjson": read_ndjson, "claimskg": read_claimskg, "quotebank": read_quotebank}
# Failures kept in full (all are counted): enough to fix a file, bounded for a file of bad lines.
KEPT_FAILURES = 1000
SHOWN_FAILURES = 20
WORKERS = 4
# At most this many documents, or claims, per transaction (`write_chunk`). On the benchmark's
# documents (5 claims each, 4 writers, 2 shared cores) 50, 100, 200 and 400 documents all loaded
# within the noise of one another (5–6 s for 20,000 claims, against 17 s one at a time); 100 keeps
# each transaction's locks short and a refused batch's rewrite small.
BATCH_DOCUMENTS = 100
BATCH_CLAIMS = 500
COMPRESSED = (".bz2",)


@dataclass
class LoadReport:
    """What a load did: records read, written and failed, and what the documents added."""

    files: list[str] = field(default_factory=list)
    records: int = 0
    written: int = 0
    failed: int = 0
    documents: int = 0
    unchanged: int = 0
    sources_created: int = 0
    claims_created: int = 0
    appearances_created: int = 0
    entities_created: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, result: WriteResult) -> None:
        """Count one written document."""
        self.documents += 1
        self.unchanged += not result.changed
        self.sources_created += result.source_created
        self.claims_created += sum(c.created for c in result.claims)
        self.appearances_created += sum(c.appearance_created for c in result.claims)
        self.entities_created += result.entities_created

    def record(self, parsed: Parsed, failures: list[Failure]) -> None:
        """Count one record, failed when any of its documents was not written."""
        self.records += 1
        if failures:
            self.failed += 1
            self.failures.extend(failures[: max(0, KEPT_FAILURES - len(self.failures))])
        else:
            self.written += 1

    def summary(self) -> dict[str, Any]:
        """The report as JSON-able data, with the first failures spelled out."""
        shown = [
            {"file": f.file, "line": f.line, "field": f.field, "reason": f.reason}
            for f in self.failures[:SHOWN_FAILURES]
        ]
        counts = {k: v for k, v in vars(self).items() if k not in ("failures", "files", "seconds")}
        return {"files": self.files, **counts, "seconds": round(self.seconds, 2), "failures": shown}


def detect_format(path: Path) -> str:
    """The format of a file by its name, and for ``.csv`` by its header line.

    ``x.ndjson``/``x.jsonl`` → ndjson, ``x.csv.bz2`` → quotebank, ``x.csv`` → claimskg or quotebank.
    """
    name = path.name.lower()
    if name.endswith((".ndjson", ".jsonl")):
        return "ndjson"
    if name.endswith(".csv.bz2"):
        return "quotebank"
    if name.endswith(".csv"):
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            header = {h.strip().strip('"') for h in f.readline(1 << 16).split(",")}
        if header >= QUOTEBANK_HEADER:
            return "quotebank"
        if header >= CLAIMSKG_HEADER:
            return "claimskg"
    raise ValueError(f"{path.name}: cannot tell its format; give --format ndjson, claimskg or quotebank")


async def write_record(
    db: Database, name: str, parsed: Parsed, report: LoadReport, statistics: Statistics | None = None
) -> None:
    """Write a record's documents in order (each its own transaction) and count the outcome."""
    failures = list(parsed.failures)
    for doc in parsed.documents:
        await _write_one(db, name, parsed.line, doc, report, failures, statistics)
    report.record(parsed, failures)


async def _write_one(
    db: Database,
    name: str,
    line: int,
    doc: SourceDocument,
    report: LoadReport,
    failures: list[Failure],
    statistics: Statistics | None,
) -> None:
    """Write one document in its own transaction; a failure is added to ``failures``."""
    try:
        report.add(await write_source_document(db, doc))
        if statistics is not None:
            await statistics.written()
    except DocumentError as exc:
        failures.append(Failure(name, line, exc.field, exc.message))
    except StatementTimeout:
        failures.append(Failure(name, line, "", "the write timed out"))
    except DatabaseUnavailable:
        raise  # the database is gone: every further record would fail the same way
    except asyncpg.PostgresError as exc:  # refused in a way the writer does not translate
        failures.append(Failure(name, line, "", f"rejected by the database: {exc}"))


async def write_chunk(
    db: Database, name: str, chunk: Sequence[Parsed], report: LoadReport, statistics: Statistics | None = None
) -> None:
    """Write consecutive records' documents as `write_record` would one by one, in fewer transactions.

    Runs of `batchable` documents are written together (`db.bulk.write_documents`); any other
    document is written alone, after the run before it. When a run's transaction fails, nothing of
    it is kept and its documents are written again one at a time, so each failure is reported
    against its own record and the others are written.
    """
    failures = [list(parsed.failures) for parsed in chunk]
    run: list[tuple[int, SourceDocument]] = []

    async def flush() -> None:
        if len(run) > 1 and await _write_run(db, [doc for _, doc in run], report, statistics):
            run.clear()
            return
        for i, doc in run:
            await _write_one(db, name, chunk[i].line, doc, report, failures[i], statistics)
        run.clear()

    for i, parsed in enumerate(chunk):
        for doc in parsed.documents:
            if batchable(doc):
                run.append((i, doc))
            else:
                await flush()
                await _write_one(db, name, parsed.line, doc, report, failures[i], statistics)
    await flush()
    for parsed, failed in zip(chunk, failures, strict=True):
        report.record(parsed, failed)


async def _write_run(
    db: Database, docs: list[SourceDocument], report: LoadReport, statistics: Statistics | None
) -> bool:
    """Write ``docs`` in one transaction and count them; False (nothing written) when it failed."""
    try:
        results = await write_documents(db, docs)
    except DatabaseUnavailable as exc:
        if not isinstance(exc, StatementTimeout):
            raise
        log.warning("a batch timed out; writing its documents one at a time", extra={"documents": len(docs)})
        return False
    except (DocumentError, asyncpg.PostgresError) as exc:
        log.info("a batch was refused; writing its documents one at a time", extra={"error": type(exc).__name__})
        return False
    for result in results:
        report.add(result)
    if statistics is not None:
        await statistics.written(len(results))
    return True


def chunks(records: Iterator[Parsed], documents: int, claims: int) -> Iterator[list[Parsed]]:
    """Consecutive records, grouped until a group holds ``documents`` documents or ``claims`` claims."""
    chunk: list[Parsed] = []
    n_docs = n_claims = 0
    for parsed in records:
        chunk.append(parsed)
        n_docs += len(parsed.documents)
        n_claims += sum(len(doc.claims) for doc in parsed.documents)
        if n_docs >= documents or n_claims >= claims:
            yield chunk
            chunk, n_docs, n_claims = [], 0, 0
    if chunk:
        yield chunk


async def _write_all(
    db: Database, name: str, records: Iterator[Parsed], report: LoadReport, workers: int, batch: int
) -> None:
    """Write the records with a few writers at once, each batch once nothing earlier in flight can
    change how it resolves (`Order`); the queue bounds how many are held in memory."""
    queue: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=workers * 2)
    statistics = Statistics(db)
    order = Order(db)
    reported = len(report.failures)

    async def writer() -> None:
        while (item := await queue.get()) is not None:
            number, chunk = item
            try:
                await order.turn(number)
                await write_chunk(db, name, chunk, report, statistics)
            finally:
                order.finish(number)

    tasks = [asyncio.create_task(writer()) for _ in range(workers)]
    try:
        for chunk in chunks(records, batch, batch * BATCH_CLAIMS // BATCH_DOCUMENTS):
            # Numbered here, in file order: a batch only ever waits for one taken off the queue before it.
            footprint = Footprint.of(doc for parsed in chunk for doc in parsed.documents)
            if not await _put(queue, (order.register(footprint), chunk), tasks):
                break
        for _ in tasks:
            if not await _put(queue, None, tasks):
                break
        await asyncio.gather(*tasks)  # raises what killed a writer (the database went away)
        report.failures[reported:] = sorted(report.failures[reported:], key=lambda f: f.line)
    finally:
        for t in tasks:
            t.cancel()
        close = getattr(records, "close", None)
        if close is not None:
            close()  # the reader's file, now rather than when it is collected


async def _put(queue: asyncio.Queue[Batch | None], item: Batch | None, tasks: list[asyncio.Task[None]]) -> bool:
    """Queue ``item`` once there is room; False (item dropped) when a writer has died meanwhile."""
    while not any(t.done() and not t.cancelled() and t.exception() is not None for t in tasks):
        try:
            queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            await asyncio.sleep(0.005)
    return False


def _counter(bar: tqdm[Any]) -> Progress:
    def count(n: int) -> None:
        bar.update(n)

    return count


def _counted(records: Iterator[Parsed], bar: tqdm[Any]) -> Iterator[Parsed]:
    """``records``, counted on ``bar`` as they are read."""
    for parsed in records:
        bar.update(1)
        yield parsed


def _read(path: Path, name: str, limit: int | None, progress: bool) -> tuple[Iterator[Parsed], tqdm[Any]]:
    """The file's records and its progress bar: bytes of a plain file, records of a compressed one
    (a decompressor reads its input a whole block at a time, so its bytes say little)."""
    if path.name.lower().endswith(COMPRESSED):
        bar = tqdm(desc=path.name, unit=" records", disable=not progress)
        return _counted(FORMATS[name](path, limit=limit), bar), bar
    bar = tqdm(desc=path.name, total=path.stat().st_size, unit="B", unit_scale=True, disable=not progress)
    return FORMATS[name](path, limit=limit, progress=_counter(bar)), bar


async def load_files(
    db: Database,
    files: Sequence[Path],
    fmt: str = "auto",
    *,
    progress: bool = False,
    limit: int | None = None,
    workers: int = WORKERS,
    batch: int = BATCH_DOCUMENTS,
) -> LoadReport:
    """Load every file (``fmt`` one of `FORMATS` or ``auto``); at most ``limit`` records per file.

    ``batch`` documents at most go in one transaction (`write_chunk`); 1 writes each on its own.
    ``workers`` batches are written at once, in an order that gives file order's outcome (`Order`);
    with 1, ids too are drawn in file order.

    Raises ValueError for a format that cannot be told, before anything is written.
    """
    formats = [detect_format(f) if fmt == "auto" else fmt for f in files]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown format: {', '.join(unknown)}")
    report = LoadReport(files=[str(f) for f in files])
    started = time.monotonic()
    for path, name in zip(files, formats, strict=True):
        records, bar = _read(path, name, limit, progress)
        with bar:
            before = report.records
            await _write_all(db, path.name, records, report, workers, max(1, batch))
            if report.records == before:
                report.failures.append(
                    Failure(path.name, 0, "", "no records: the file is empty or holds only a header")
                )
    report.seconds = time.monotonic() - started
    return report
