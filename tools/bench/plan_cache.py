"""The plan-cache hook of the benchmarks: ``fastmango.db.execute.plan_cache_stats()`` read when it exists.

Issue 14 adds a plan cache to fastmango's query pipeline (``fastmango/db/execute.py``). Until it lands, every
function here answers None and the reports say the cache is not there; once ``plan_cache_stats()`` exists, the
HTTP benchmark (through the fastmango app's :data:`STATS_PATH`) and the ORM benchmark print its hits, misses,
hit rate and size with no change here. The stats may be a mapping or an object with attributes (a dataclass,
a named tuple such as ``functools``' ``CacheInfo``); ``currsize`` is read as ``size``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

#: The fastmango benchmark app's route answering :func:`read_plan_cache_stats` as JSON (``{}`` without a cache).
STATS_PATH = "/_bench/plan-cache"
MODULE, FUNCTION = "fastmango.db.execute", "plan_cache_stats"
#: Counters kept from the stats, under these names (the first key found of each tuple).
FIELDS = {
    "hits": ("hits",),
    "misses": ("misses",),
    "size": ("size", "currsize", "entries"),
    "maxsize": ("maxsize", "max_size", "capacity", "limit"),
    "bytes": ("bytes", "memory", "memory_bytes", "nbytes"),
}


def read_plan_cache_stats() -> dict[str, float] | None:
    """The plan cache's counters in this process, or None while fastmango has no ``plan_cache_stats()``."""
    try:
        module = importlib.import_module(MODULE)
    except ImportError:
        return None
    reader = getattr(module, FUNCTION, None)
    if not callable(reader):
        return None
    return normalize(reader())


def normalize(stats: Any) -> dict[str, float]:
    """The numeric counters of ``stats`` (a mapping or an object), under the names of :data:`FIELDS`."""
    if not isinstance(stats, Mapping):
        stats = {name: getattr(stats, name) for name in dir(stats) if not name.startswith("_")}
    found: dict[str, float] = {}
    for name, keys in FIELDS.items():
        for key in keys:
            value = stats.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[name] = value
                break
    return found


def difference(before: Mapping[str, float] | None, after: Mapping[str, float] | None) -> dict[str, float] | None:
    """The hits and misses between two readings (size and the bounds as of ``after``)."""
    if after is None:
        return None
    delta = dict(after)
    for name in ("hits", "misses"):
        if before is not None and name in before and name in after:
            delta[name] = after[name] - before[name]
    return delta


def describe(stats: Mapping[str, float] | None) -> str:
    """One sentence for a report: hits, misses, hit rate and size, or that there is no plan cache."""
    if stats is None:
        return f"no plan cache in this fastmango (`{MODULE}.{FUNCTION}()` does not exist yet)"
    if not stats:
        return f"`{MODULE}.{FUNCTION}()` answered no counters it names hits, misses or size"
    parts = []
    hits, misses = stats.get("hits"), stats.get("misses")
    if hits is not None and misses is not None:
        lookups = hits + misses
        rate = f"{hits / lookups:.1%}" if lookups else "-"
        parts.append(f"hit rate {rate} ({hits:,.0f} hits, {misses:,.0f} misses)")
    if "size" in stats:
        bound = f" of at most {stats['maxsize']:,.0f}" if "maxsize" in stats else ""
        parts.append(f"{stats['size']:,.0f} plans cached{bound}")
    if "bytes" in stats:
        parts.append(f"{stats['bytes'] / 1024:,.0f} KiB")
    return ", ".join(parts) or "no counters"
