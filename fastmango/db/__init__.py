"""Database: the async engine and connection helpers (the ORM builds on them)."""

from fastmango.db.engine import Database, configure, connect, connected, disconnect, get_database

__all__ = ["Database", "configure", "connect", "connected", "disconnect", "get_database"]
