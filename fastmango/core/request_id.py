"""Every request's id: reused from a well-formed incoming ``X-Request-ID`` or made new, available to log records as
:data:`fastmango.core.logging.request_id_var`, returned as ``X-Request-ID`` and in the access log line
(:class:`fastmango.core.request_middleware.RequestMiddleware` does the work per request)."""

from __future__ import annotations

import logging
import os
import re

from starlette.types import Scope

HEADER = "x-request-id"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_logger = logging.getLogger("fastmango.request")


def request_id_of(scope: Scope) -> str:
    """The request's id: a well-formed incoming ``X-Request-ID`` (from a proxy: 1-128 letters, digits and
    ``._:-``), else a new one (32 random hex characters)."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming: str = value.decode("latin-1")
            if _ACCEPTED.fullmatch(incoming):
                return incoming
            break
    return os.urandom(16).hex()
