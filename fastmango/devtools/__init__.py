"""Developer tools: per-request records (SQL with its call site, logs, jobs, AI calls), N+1 detection and the
debug panel at ``/_debug``. See docs/devtools.md.

The layer sits above auth (it imports core, db and auth); the layers below report to it through the core
recorder (:mod:`fastmango.core.recorder`) and the query hook, never by importing it.
"""

from fastmango.devtools.nplusone import NPlusOneDetected, find_repeated, suggest_fix
from fastmango.devtools.store import MemoryStore, RecordStore, RedisStore

__all__ = ["MemoryStore", "NPlusOneDetected", "RecordStore", "RedisStore", "find_repeated", "suggest_fix"]
