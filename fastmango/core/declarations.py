"""Errors in declarations: a resource's fields, a router's or a tool's actions, an admin's options that name nothing.

A declaration checks its names when it is made, so a typo fails the app at start-up, with a message naming the
declaration, the wrong name, the close match and the valid names::

    filter_fields of Note: 'publishd': Note has no field 'publishd' (did you mean 'published'?); its fields are: ...

The layer that owns a declaration raises a :class:`DeclarationError` through :func:`report`, with the id of the
``fastmango check`` finding it is (``fastmango.E201``: the api layer's, ``fastmango.E5xx``: the admin's).
``fastmango check`` loads the project inside :func:`collecting`: there :func:`report` records the error instead
and the declaration goes on without the wrong name, so that one run lists every typo of the project.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from fastmango.core.errors import ImproperlyConfigured

__all__ = ["DeclarationError", "close_match", "collecting", "did_you_mean", "report", "use_instead"]


class DeclarationError(ImproperlyConfigured):
    """A declaration names something that does not exist (or cannot be used there).

    Args:
        message: What is wrong: the declaration, the wrong name, the close match and the valid names.
        id: The ``fastmango check`` finding it is (``fastmango.E201``).
        hint: How to fix it (the close match to use, else the valid names).
        obj: What made the declaration (``Note``, ``the admin of Note``).
    """

    def __init__(self, message: str, *, id: str, hint: str, obj: str | None = None) -> None:
        super().__init__(message)
        self.id = id
        self.hint = hint
        self.obj = obj


def close_match(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to ``name`` (difflib's), if one is close enough."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when one of ``candidates`` is close to ``name``, else nothing."""
    close = close_match(name, candidates)
    return f" (did you mean {close!r}?)" if close else ""


def use_instead(name: str, candidates: Iterable[str], what: str = "name") -> str:
    """The hint for a wrong ``name``: ``use 'x' instead of 'y'``, or the valid names when none is close."""
    names = sorted(candidates)
    close = close_match(name, names)
    if close is not None:
        return f"use {close!r} instead of {name!r}"
    if not names:
        return f"leave {name!r} out: there is no {what}"
    return f"{name!r} is no {what}; use one of: {', '.join(names)}"


_collected: ContextVar[list[DeclarationError] | None] = ContextVar("fastmango_declaration_errors", default=None)


def report(error: DeclarationError) -> None:
    """Raise ``error``; inside :func:`collecting`, record it instead (the caller then goes on without the name).

    Raises:
        DeclarationError: ``error``, unless errors are being collected.
    """
    found = _collected.get()
    if found is None:
        raise error
    if not any(str(seen) == str(error) and seen.id == error.id for seen in found):
        found.append(error)


@contextmanager
def collecting() -> Iterator[list[DeclarationError]]:
    """Record the declaration errors reported inside the block (each once) rather than raise the first."""
    found: list[DeclarationError] = []
    token = _collected.set(found)
    try:
        yield found
    finally:
        _collected.reset(token)
