"""Errors fastmango raises, and RFC 9457 problem details for HTTP responses."""

from __future__ import annotations

from typing import Any


class FastMangoError(Exception):
    """Base class of every error fastmango raises on purpose."""


class ImproperlyConfigured(FastMangoError):
    """A setting is missing or wrong. The message names the setting and how to fix it."""


class ProjectNotFound(FastMangoError):
    """No fastmango project could be located from the current directory or ``FASTMANGO_APP``."""


class MissingDependency(FastMangoError, ImportError):
    """An optional dependency is not installed. The message names the extra that provides it."""


class ProblemError(FastMangoError):
    """An error that renders as an RFC 9457 ``application/problem+json`` response.

    Raise it (or a subclass) anywhere in a request to answer with a problem document.

    Args:
        status: The HTTP status code.
        detail: A human-readable explanation specific to this occurrence.
        title: A short summary of the problem type; defaults to the status phrase.
        type: A URI that identifies the problem type; by default the status's fastmango type
            (``https://fastmango.dev/problems/not-found`` for 404: ``fastmango.core.problems.default_problem_type``).
        headers: Extra response headers (``Retry-After``, ``WWW-Authenticate``...).
        **extensions: Extra members of the problem document (``errors``, ``budget``...).
    """

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.detail = detail
        self.title = title
        self.type = type
        self.headers = headers or {}
        self.extensions = extensions
