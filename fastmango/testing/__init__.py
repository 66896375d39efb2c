"""Helpers for testing fastmango apps, and the pytest plugin (fixtures ``postgres_url``, ``redis_url``).

The plugin loads automatically where fastmango is installed (entry point ``pytest11``).
"""

from fastmango.testing.client import app_client
from fastmango.testing.queries import CapturedQueries, capture_queries
from fastmango.testing.services import in_ci, postgres_url_or_skip, redis_url_or_skip, service_reachable

__all__ = [
    "CapturedQueries",
    "app_client",
    "capture_queries",
    "in_ci",
    "postgres_url_or_skip",
    "redis_url_or_skip",
    "service_reachable",
]
