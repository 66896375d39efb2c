"""Logging: one call configures stdlib logging for dev (readable, colored) or prod (JSON lines).

Every record logged while a request is handled carries that request's id (``request_id``), set by
:class:`fastmango.core.request_middleware.RequestMiddleware`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from fastmango.core.settings import Settings

#: The id of the request being handled in this context, or None outside a request.
request_id_var: ContextVar[str | None] = ContextVar("fastmango_request_id", default=None)

_HANDLER_NAME = "fastmango"
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id", "color_message"}


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (``-`` outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extras and exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """Readable lines for development, colored when the stream is a terminal."""

    COLORS = {
        "DEBUG": "\x1b[2m",
        "INFO": "\x1b[32m",
        "WARNING": "\x1b[33m",
        "ERROR": "\x1b[31m",
        "CRITICAL": "\x1b[1;31m",
    }
    RESET = "\x1b[0m"

    def __init__(self, color: bool) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s [%(request_id)s] %(message)s", "%H:%M:%S")
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        line = super().format(record)
        if self.color:
            color = self.COLORS.get(record.levelname, "")
            line = f"{color}{line}{self.RESET}"
        return line


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Configure stdlib logging from settings. Calling it again replaces the previous configuration.

    Text output in dev (``log_format="auto"``), JSON lines in test and prod; ``log_format`` forces either.
    Logfire is configured only when ``settings.logfire`` is on.
    """
    stream = stream or sys.stderr
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "text" if settings.env == "dev" else "json"
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    handler.setFormatter(JSONFormatter() if fmt == "json" else ConsoleFormatter(color=is_tty))

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # uvicorn's own handlers would print every line twice: route its loggers through ours, and drop its
    # access log, which RequestMiddleware replaces with one line per request that carries the request id.
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    if settings.logfire:
        from fastmango.core.logfire import configure_logfire

        configure_logfire(settings, root)
