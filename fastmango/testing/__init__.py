"""Helpers for testing fastmango apps, and the pytest plugin (fixtures ``postgres_url``, ``redis_url``).

The plugin loads automatically where fastmango is installed (entry point ``pytest11``).
"""

from contextlib import AbstractContextManager as _ContextManager
from pathlib import Path as _Path
from typing import Any as _Any

from fastmango.testing.client import app_client
from fastmango.testing.queries import (
    CapturedQueries,
    TooManyQueries,
    assert_max_queries,
    assert_no_n_plus_one,
    capture_queries,
)
from fastmango.testing.services import in_ci, postgres_url_or_skip, redis_url_or_skip, service_reachable


# Record and replay import Pydantic AI, so they are imported on first use (fastmango.testing is a pytest plugin).
def recording(spec: _Any, path: str | _Path, *, settings: _Any = None) -> _ContextManager[_Any]:
    """Record ``spec``'s model responses to ``path`` within the block; see :mod:`fastmango.testing.replay`."""
    from fastmango.testing import replay as module

    return module.recording(spec, path, settings=settings)


def replaying(spec: _Any, path: str | _Path) -> _ContextManager[_Any]:
    """Answer ``spec``'s model requests from the recording at ``path`` within the block; a miss raises."""
    from fastmango.testing import replay as module

    return module.replaying(spec, path)


def record_model(wrapped: _Any, path: str | _Path, *, agent: str | None = None) -> _Any:
    """A Pydantic AI model forwarding to ``wrapped`` that records each exchange to ``path``."""
    from fastmango.testing import replay as module

    return module.record_model(wrapped, path, agent=agent)


def replay_model(path: str | _Path, *, agent: str | None = None) -> _Any:
    """A Pydantic AI model answering from the recording at ``path``; raises ``ReplayMiss`` on a miss."""
    from fastmango.testing import replay as module

    return module.replay_model(path, agent=agent)


__all__ = [
    "CapturedQueries",
    "TooManyQueries",
    "app_client",
    "assert_max_queries",
    "assert_no_n_plus_one",
    "capture_queries",
    "in_ci",
    "postgres_url_or_skip",
    "record_model",
    "recording",
    "redis_url_or_skip",
    "replay_model",
    "replaying",
    "service_reachable",
]
