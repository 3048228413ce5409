"""Structured logs: one JSON object per line, each carrying the id of the request it belongs to.

``{"ts": "2025-11-26T10:00:00.123Z", "level": "INFO", "logger": "claims.access",
"msg": "GET /v1/claims 200", "request_id": "9f1c…", "method": "GET", "path": "/v1/claims",
"status": 200, "duration_ms": 3.1, "key": "0123456789ab", "client": "10.0.0.7"}``

The access line names the key by its prefix only; query strings, bodies, secrets and SQL
parameters never reach a log line from this module.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

REQUEST_ID: ContextVar[str | None] = ContextVar("claims_request_id", default=None)

ACCESS = "claims.access"
access = logging.getLogger(ACCESS)

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is emitted.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured duplicate of the message
}


_MILLIS = [f".{m:03d}Z" for m in range(1000)]  # a timestamp's ending, by millisecond


class JsonFormatter(logging.Formatter):
    """A record as one JSON line, with the current request's id when there is one."""

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

    @staticmethod
    def timestamp(created: float) -> str:
        """``"2025-11-26T10:00:00.123Z"``; the text of the second is made once per second (under load
        many lines share each)."""
        milli = int(created * 1000)
        return _second_text(milli // 1000) + _MILLIS[milli % 1000]


@functools.lru_cache(maxsize=4)
def _second_text(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def configure_logging(level: str) -> None:
    """JSON lines on stderr: adopt the plain handlers ``basicConfig`` or uvicorn set up, or add one.

    Handlers of other kinds (pytest's capture, a file or syslog handler an operator configured)
    keep their formatters. When the root's only handler is such a stream handler, access lines
    take the direct way (`AccessSink`).
    """
    global _sink
    formatter = JsonFormatter()
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if type(handler) is logging.StreamHandler:
                handler.setFormatter(formatter)
    logging.getLogger("claims").setLevel(level.upper())
    only = root.handlers[0] if len(root.handlers) == 1 else None
    _sink = AccessSink(only) if type(only) is logging.StreamHandler else None


class AccessSink:
    """The access line written straight to the root's JSON stream handler, in short batches.

    Through `logging` an access line costs a record, a walk up the logger hierarchy, a lock, the
    formatter and a write and flush of its own; this makes the same JSON object with one
    ``orjson.dumps`` and writes what queued up every `FLUSH_S` seconds (and at shutdown), one
    write for many requests under load. It steps aside — `access_log` goes through `logging` — as
    soon as the setup changes (another handler on the root or on the ``claims`` loggers, a filter,
    a new formatter, a level above INFO), so configured handlers and test captures see every line.
    """

    FLUSH_S = 0.05

    def __init__(self, handler: logging.StreamHandler) -> None:  # type: ignore[type-arg]
        self.handler = handler
        self.formatter = handler.formatter
        self.root = logging.getLogger()
        self.parent = logging.getLogger("claims")
        self.pending: list[bytes] = []
        self.alone = [handler]

    def access_line(
        self,
        method: str,
        path: str,
        address: str | None,
        status: int,
        duration_ms: float,
        key_prefix: str | None,
        request_id: str | None,
    ) -> bool:
        """Queue the access line (`access_log`'s fields); False, with nothing queued, when logging is
        no longer set up as it was when this sink was made (the line then goes through `logging`)."""
        handler, parent = self.handler, self.parent
        if not (
            self.root.handlers == self.alone  # a list comparison in C: this handler and no other
            and handler.formatter is self.formatter
            and handler.level <= logging.INFO
            and not (handler.filters or access.handlers or access.filters or parent.handlers or parent.filters)
            and access.propagate
            and parent.propagate
        ):
            return False
        line = {  # one dict, in the formatter's order
            "ts": _timestamps.timestamp(time.time()),
            "level": "INFO",
            "logger": ACCESS,
            "msg": f"{method} {path} {status}",
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "key": key_prefix,
            "client": address,
        }
        if not request_id:
            del line["request_id"]
        self.write(line)
        return True

    def write(self, line: dict[str, Any]) -> None:
        """Queue ``line``; the first line of a batch schedules its flush (outside an event loop,
        there is nothing to schedule it on: written at once)."""
        self.pending.append(orjson.dumps(line, default=str))
        if len(self.pending) == 1:
            try:
                asyncio.get_running_loop().call_later(self.FLUSH_S, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        """Write the queued lines in one go."""
        lines, self.pending = self.pending, []
        if not lines:
            return
        data = b"\n".join(lines) + b"\n"
        stream = self.handler.stream
        # orjson's UTF-8 goes to the bytes under a UTF-8 text stream (stderr) as it is, not decoded
        # for the text layer to encode again; any other stream is written as text.
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        raw = getattr(stream, "buffer", None) if encoding == "utf8" else None
        try:
            if raw is not None:
                stream.flush()  # what went through the text layer before these lines goes first
                raw.write(data)
                raw.flush()
            else:
                stream.write(data.decode())
                stream.flush()
        except (OSError, ValueError):
            pass  # stderr closed or broken: like logging's own handlers, never fail the server


_sink: AccessSink | None = None
_timestamps = JsonFormatter()


def flush_access_log() -> None:
    """Write the access lines still queued (the app's shutdown calls this)."""
    if _sink is not None:
        _sink.flush()


def access_log(
    method: str,
    path: str,
    address: str | None,
    status: int,
    started: float,
    key_prefix: str | None,
    request_id: str | None,
) -> None:
    """The one line per request (``started``: its `time.perf_counter`; ``request_id``: its id, the
    `REQUEST_ID` the middleware set)."""
    if not access.isEnabledFor(logging.INFO):
        return
    duration_ms = int((time.perf_counter() - started) * 100_000) / 100  # milliseconds, two decimals, truncated
    sink = _sink
    if sink is not None and sink.access_line(method, path, address, status, duration_ms, key_prefix, request_id):
        return
    record = _access_record()
    record.__dict__.update(
        args=(method, path, status),
        request_id=request_id,
        method=method,
        path=path,
        status=status,
        duration_ms=duration_ms,
        key=key_prefix,
        client=address,
    )
    access.handle(record)


@functools.lru_cache(maxsize=1)
def _template(pid: int) -> dict[str, Any]:
    """The fields of an access record made the usual way in process ``pid`` (a fork makes its own)."""
    return vars(logging.LogRecord(access.name, logging.INFO, __file__, 0, "%s %s %d", (), None))


def _access_record() -> logging.LogRecord:
    """A fresh record for the access line, copied from one made the usual way in this process.

    ``LogRecord()`` looks up the thread, process and module names and splits the source path
    for every record; those never change for this line (it is always written from the event
    loop's thread), so copying them saves most of the record's cost.
    """
    template = _template(os.getpid())
    record = logging.LogRecord.__new__(logging.LogRecord)
    record.__dict__.update(template)
    now = time.time()
    record.created = now
    record.msecs = (now - int(now)) * 1000
    record.relativeCreated = template["relativeCreated"] + (now - template["created"]) * 1000
    return record
