"""`claims load`: stream NDJSON, ClaimsKG and Quotebank files into the store, a batch at a time.

Every input record becomes one or more `SourceDocument`s, written with the outcome of
`db.documents.write_source_document` called on each in file order (idempotent), but many in one
transaction (`db.bulk.write_documents`; documents it cannot express are written alone) and several
batches at once: a batch waits for the earlier batches in flight that may find or create any row
it may (`order`, `db.footprints`), so the rows, compared by what identifies them, and the report
are those of file order whatever the timing, while nothing else writes to the database. Ids are
drawn in the order batches are written, which need not be the file's: a reference by id to an
entity the same load creates, or a tie the resolver breaks by the lower id, may come out otherwise.
A record that cannot be read, validated or written is counted and reported with its line and the
offending field; the rest go on. Memory stays bounded whatever the file size: records are read as
they are written, with at most a few batches in flight.

>>> from pathlib import Path
>>> detect_format(Path("claims.ndjson"))
'ndjson'
"""

from __future__ import annotations

from api.importers.loader import FORMATS, LoadReport, detect_format, load_files
from api.importers.records import Failure

__all__ = ["FORMATS", "Failure", "LoadReport", "detect_format", "load_files"]
