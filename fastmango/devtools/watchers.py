"""What the open record collects on its own: each SQL statement (from the query hook) with the line of user code
that ran it, and each log line.

Both do nothing but one context-variable read when no record is open.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import sysconfig
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

try:
    from greenlet import getcurrent as _greenlet_getcurrent
except ImportError:  # pragma: no cover - SQLAlchemy's asyncio support installs greenlet
    _greenlet_getcurrent = None

from fastmango.core import recorder
from fastmango.core.debug_page import MASK
from fastmango.db.hook import QueryEvent

#: Frames in these folders are the framework's or a library's, not the user's code that ran a statement.
_LIBRARY_FOLDERS = tuple(
    str(Path(path).resolve()) + os.sep
    for path in {
        str(Path(__file__).resolve().parent.parent),  # fastmango itself
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
    }
)
#: The longest parameter value kept in a record (a 1 MiB body bound to an INSERT stays in the database), and the
#: longest header value.
MAX_VALUE_LENGTH = 200
#: The longest log message, error, path or query string kept.
MAX_TEXT_LENGTH = 2000
#: The longest statement kept (an IN list of 100,000 placeholders is not worth keeping whole 1000 times).
MAX_SQL_LENGTH = 20_000
#: The most values of one parameter list, or parameter sets of an executemany, kept.
MAX_ITEMS = 100
#: A JSON Web Token (header.payload.signature, the first two base64url JSON objects: ``eyJ``), or what is left of
#: one once cut: masked wherever it shows, whatever the name it came under.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?")


def bounded(text: str, limit: int = MAX_VALUE_LENGTH) -> str:
    """``text`` cut to ``limit`` characters, the JSON Web Tokens in it masked."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _JWT.sub(MASK, text) if "eyJ" in text else text


def record_query(query: QueryEvent) -> None:
    """The query hook's listener: adds the statement to the open record."""
    if recorder.current() is not None:
        recorder.note("queries", query_entry(query))


def query_entry(query: QueryEvent) -> dict[str, Any]:
    """What a record keeps of a statement: SQL, parameters (secrets masked, long values cut), time, rows, shape,
    the model and fields it filters on, and the line of user code that ran it."""
    return {
        "sql": query.sql if len(query.sql) <= MAX_SQL_LENGTH else query.sql[: MAX_SQL_LENGTH - 1] + "…",
        "params": _loggable(query.loggable_params()),
        "duration_ms": round(query.duration * 1000, 3),
        "rows": query.rows,
        "shape": None if query.shape is None else _shape_id(query.shape),
        "model": _model_of(query.shape),
        "filters": _filters_of(query.shape),
        "connection": query.connection,
        "executemany": query.executemany,
        "site": call_site(),
    }


#: Code objects where the search for user code stops: what is above them on the stack (an in-process test client,
#: the server) did not run the statement for the request.
STOP_AT: set[CodeType] = set()


def call_site() -> str | None:
    """``path:line in function`` of the innermost frame of user code on the stack (None when there is none).

    A statement SQLAlchemy runs is reported from a greenlet of its own, whose stack ends at SQLAlchemy's
    ``greenlet_spawn``: the search goes on in the stack of the greenlet that spawned it, where the user's code is.
    """
    frame: FrameType | None = sys._getframe(1)
    current: Any = _greenlet_getcurrent() if _greenlet_getcurrent is not None else None
    while True:
        while frame is not None:
            code = frame.f_code
            if code in STOP_AT:
                return None
            short = _user_file(code.co_filename)
            if short is not None:
                return f"{short}:{frame.f_lineno} in {code.co_name}"
            frame = frame.f_back
        current = getattr(current, "parent", None)
        if current is None:
            return None
        frame = current.gr_frame


@functools.lru_cache(maxsize=4096)
def _user_file(filename: str) -> str | None:
    """The name to show of a file of user code; None for the framework's, a library's or generated code."""
    if filename.startswith(_LIBRARY_FOLDERS) or filename.startswith("<"):
        return None
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    return filename if relative.startswith("..") else relative


class RecordLogHandler(logging.Handler):
    """Adds each log record emitted while a record is open to it (level, logger, message)."""

    def emit(self, log: logging.LogRecord) -> None:
        if recorder.current() is None or log.name == "fastmango.db.sql":  # the SQL echo repeats the queries section
            return
        try:
            message = log.getMessage()
        except Exception:  # a broken %-format: show the template rather than lose the line
            message = str(log.msg)
        entry: dict[str, Any] = {
            "time": log.created,
            "level": log.levelname,
            "logger": log.name,
            "message": bounded(message, MAX_TEXT_LENGTH),
        }
        if log.exc_info and log.exc_info[1] is not None:
            entry["error"] = bounded(f"{type(log.exc_info[1]).__name__}: {log.exc_info[1]}", MAX_TEXT_LENGTH)
        recorder.note("logs", entry)


def _loggable(params: Any) -> Any:
    """Parameters as JSON-ready values: long ones cut, long lists too (the count of the rest last), tokens masked."""
    if isinstance(params, dict):
        return {str(key): _loggable(value) for key, value in params.items()}
    if isinstance(params, (list, tuple)):
        kept = [_loggable(value) for value in params[:MAX_ITEMS]]
        return kept if len(params) <= MAX_ITEMS else [*kept, f"… {len(params) - MAX_ITEMS} more"]
    if params is None or isinstance(params, (bool, int, float)):
        return params
    if isinstance(params, (bytes, bytearray, memoryview)):
        params = bytes(params[: MAX_VALUE_LENGTH + 1])  # not the repr of a 1 MiB value, to cut it afterwards
    return bounded(params if isinstance(params, str) else repr(params))


def _shape_id(shape: Any) -> str:
    """A short stable name of a shape within this process (records compare shapes, they need not read them)."""
    return format(hash(shape) & 0xFFFFFFFFFFFF, "012x")


def _model_of(shape: Any) -> str | None:
    model = shape[0] if isinstance(shape, tuple) and shape else None
    return model.__name__ if isinstance(model, type) else None


def _filters_of(shape: Any) -> list[str]:
    """The field lookups a planned query filters on (``["author_id"]``), from its shape's WHERE part."""
    if not isinstance(shape, tuple) or len(shape) < 5:
        return []
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, tuple) and len(node) == 3 and isinstance(node[2], tuple) and isinstance(node[1], bool):
            for child in node[2]:
                walk(child)
        elif isinstance(node, tuple) and node and isinstance(node[0], str):
            found.append(node[0])

    for q in shape[4]:
        walk(q)
    return found
