"""Fault tests: servers of their own (tests.faults.servers), stopped, hung and restarted."""

from tests.faults.servers import postgres_server, redis_server

__all__ = ["postgres_server", "redis_server"]
