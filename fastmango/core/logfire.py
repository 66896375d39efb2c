"""The Logfire adapter: the only module that imports ``logfire``, and only when ``settings.logfire`` is on."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastmango.core.lazy import require

if TYPE_CHECKING:
    from fastmango.core.settings import Settings


def configure_logfire(settings: Settings, root: logging.Logger) -> None:
    """Configure Logfire for this process and send stdlib log records to it."""
    logfire = require("logfire", extra="logfire")
    logfire.configure(service_name=settings.project_name, environment=settings.env, send_to_logfire="if-token-present")
    if not any(isinstance(h, logfire.LogfireLoggingHandler) for h in root.handlers):
        root.addHandler(logfire.LogfireLoggingHandler())
