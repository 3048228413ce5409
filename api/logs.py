"""Structured logs: one JSON object per line, each carrying the id of the request it belongs to.

``{"ts": "2025-11-26T10:00:00.123Z", "level": "INFO", "logger": "claims.access",
"msg": "GET /v1/claims 200", "request_id": "9f1c…", "method": "GET", "path": "/v1/claims",
"status": 200, "duration_ms": 3.1, "key": "0123456789ab", "client": "10.0.0.7"}``

The access line names the key by its prefix only; query strings, bodies, secrets and SQL
parameters never reach a log line from this module.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import orjson

REQUEST_ID: ContextVar[str | None] = ContextVar("claims_request_id", default=None)

access = logging.getLogger("claims.access")

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is emitted.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured duplicate of the message
}


class JsonFormatter(logging.Formatter):
    """A record as one JSON line, with the current request's id when there is one."""

    _second = -1
    _stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            out["request_id"] = request_id
        fields = record.__dict__
        for key in fields.keys() - _STANDARD:  # the ``extra=`` ones, found by a set difference in C
            out.setdefault(key, fields[key])
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()

    def timestamp(self, created: float) -> str:
        """``"2025-11-26T10:00:00.123Z"``; the part down to the second is reused within a second."""
        second = int(created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int((created - second) * 1000):03d}Z"


def configure_logging(level: str) -> None:
    """JSON lines on stderr: adopt the plain handlers ``basicConfig`` or uvicorn set up, or add one.

    Handlers of other kinds (pytest's capture, a file or syslog handler an operator configured)
    keep their formatters.
    """
    formatter = JsonFormatter()
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if type(handler) is logging.StreamHandler:
                handler.setFormatter(formatter)
    logging.getLogger("claims").setLevel(level.upper())


def access_log(scope: Mapping[str, Any], status: int, started: float, key_prefix: str | None) -> None:
    """The one line per request."""
    if not access.isEnabledFor(logging.INFO):
        return
    method, path = scope["method"], scope["path"]
    client = scope.get("client")
    record = _access_record()
    record.__dict__.update(
        args=(method, path, status),
        request_id=REQUEST_ID.get(),
        method=method,
        path=path,
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        key=key_prefix,
        client=client[0] if client else None,
    )
    access.handle(record)


_template: dict[str, Any] = {}


def _access_record() -> logging.LogRecord:
    """A fresh record for the access line, copied from one made the usual way in this process.

    ``LogRecord()`` looks up the thread, process and module names and splits the source path
    for every record; those never change for this line (it is always written from the event
    loop's thread), so copying them saves most of the record's cost.
    """
    if _template.get("process") != os.getpid():
        _template.clear()
        _template.update(vars(logging.LogRecord(access.name, logging.INFO, __file__, 0, "%s %s %d", (), None)))
    record = logging.LogRecord.__new__(logging.LogRecord)
    record.__dict__.update(_template)
    now = time.time()
    record.created = now
    record.msecs = (now - int(now)) * 1000
    record.relativeCreated = _template["relativeCreated"] + (now - _template["created"]) * 1000
    return record
