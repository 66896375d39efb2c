"""What a failed tool call tells the model or the MCP client: what failed, in words.

The words never name an exception class (``DBAPIError``), a statement, a host or a value: those are the server's
internals, and they go to the log (with the traceback) instead. A caller's mistake the model can correct (a value
the database refuses) becomes a retry prompt; anything else a failed call.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class ToolFailure:
    """What to tell the caller about a failed call.

    Attributes:
        message: One or two sentences saying what failed and what the caller can do.
        retry: The caller's arguments were at fault: the model should correct them and call again.
        expected: Not a bug (an outage, a refused write): logged as a warning, without a traceback.
    """

    message: str
    retry: bool = False
    expected: bool = False


def describe_failure(tool: str, exc: BaseException) -> ToolFailure:
    """What ``exc``, raised by the tool ``tool``, means for its caller."""
    from sqlalchemy import exc as sa_exc

    from fastmango.db.errors import DatabaseUnavailable, IntegrityError, ObjectDoesNotExist

    if isinstance(exc, DatabaseUnavailable | sa_exc.TimeoutError) or _invalidated(exc):
        return ToolFailure("The database is unavailable right now; try again in a few seconds.", expected=True)
    if isinstance(exc, IntegrityError | sa_exc.IntegrityError):
        return ToolFailure(_integrity_message(exc), expected=True)
    if isinstance(exc, ObjectDoesNotExist):
        return ToolFailure(f"{exc} Check the identifier, or list the rows first.", expected=True)
    if isinstance(exc, sa_exc.DataError):
        return ToolFailure(
            "The database refused a value of the arguments (out of range for its column, or text it cannot store). "
            "Send other values.",
            retry=True,
            expected=True,
        )
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return ToolFailure(f"The database refused the request of the tool {tool!r}.")
    if _redis_error(exc):
        return ToolFailure(
            "A service the tool needs (the cache or the task queue) is unavailable right now; try again later.",
            expected=True,
        )
    if isinstance(exc, TimeoutError):
        return ToolFailure(f"The tool {tool!r} did not finish in time.", expected=True)
    return ToolFailure(f"The tool {tool!r} failed unexpectedly; the error is logged on the server.")


def _invalidated(exc: BaseException) -> bool:
    """A driver error SQLAlchemy recognised as a lost connection."""
    return bool(getattr(exc, "connection_invalidated", False))


def _integrity_message(exc: BaseException) -> str:
    from fastmango.db.errors import IntegrityError, integrity_error_from

    error = exc if isinstance(exc, IntegrityError) else integrity_error_from(exc)
    # The public form names the fields only, not the constraint or table (as the 409 problem does in prod).
    public = getattr(error, "public_message", None)
    return str(public) if public else "The database refused the write: a constraint does not allow it."


def _redis_error(exc: BaseException) -> bool:
    # Only when redis is loaded: the check must not import it.
    exceptions = sys.modules.get("redis.exceptions")
    return exceptions is not None and isinstance(exc, exceptions.RedisError)
