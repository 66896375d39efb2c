"""AI usage reports over ``ai_usage``: ``fastmango ai usage`` and the staff-only ``GET /ai/usage``."""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from typing import Any, Literal, get_args

from fastapi import APIRouter, Depends, Query
from pydantic_core import to_jsonable_python

from fastmango.ai.metering import UsageRecord, flush_usage
from fastmango.api.bounds import UTC_MAX, UTC_MIN
from fastmango.api.filters import BadQueryParameter
from fastmango.auth.dependencies import require_staff
from fastmango.core.problems import problem_responses

Group = Literal["model", "agent", "tool", "user", "route", "day"]
GROUPS: tuple[str, ...] = get_args(Group)
COLUMNS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cost",
    "cache_hits",
    "cache_hit_rate",
    "cost_saved",
    "p50_ms",
    "p95_ms",
)


def parse_time(value: str | None, *, now: datetime.datetime | None = None) -> datetime.datetime | None:
    """``24h``, ``7d``, ``30m`` (that long ago) or an ISO date/datetime (UTC when naive), as a UTC datetime.

    A moment beyond what a datetime holds (``99999999d``, ``0001-01-01T00:00:00+05:00``: before the year 1 in
    UTC) is the first or last instant that it holds, so ``since=99999999d`` reports everything.

    Raises:
        ValueError: neither a duration nor an ISO date.
    """
    if not value:
        return None
    now = now or datetime.datetime.now(datetime.UTC)
    match = re.fullmatch(r"(\d{1,12})([mhd])", value.strip())
    try:
        if match:
            amount, unit = int(match[1]), match[2]
            try:
                return now - datetime.timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
            except OverflowError:
                return UTC_MIN
        moment = datetime.datetime.fromisoformat(value.upper())  # RFC 3339 allows 2025-01-31t09:30:00z
        try:
            return (moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)).astimezone(datetime.UTC)
        except OverflowError:
            return UTC_MIN if moment.year == 1 else UTC_MAX
    except ValueError:
        raise ValueError(f"{value!r} is neither a duration (24h, 7d) nor a date (2025-01-31)") from None


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))], 1)


async def _usernames(user_ids: set[int]) -> dict[int, str]:
    """The usernames of ``user_ids``, in one query; users deleted since are missing."""
    from fastmango.auth import User

    if not user_ids:
        return {}
    found = await User.objects.filter(id__in=sorted(user_ids)).values("id", "username")
    return {row["id"]: row["username"] for row in found}


def _group_value(row: dict[str, Any], by: str, usernames: dict[int, str]) -> str:
    if by == "day":
        return str(row["time"].date())
    if by == "user":
        user_id = row["user_id"]
        return "-" if user_id is None else usernames.get(user_id, f"#{user_id} (deleted)")
    value = row.get(by)
    if by == "route" and value is None:
        value = row.get("task")
    return "-" if value is None else str(value)


def _summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    model_rows = [r for r in rows if r["kind"] == "model"]
    hits = sum(1 for r in model_rows if r["cache_hit"])
    costs = [r["cost"] for r in rows if r["cost"] is not None]
    saved = [r["cost_saved"] for r in rows if r["cost_saved"] is not None]
    latencies = [r["latency_ms"] for r in rows if not r["cache_hit"] and r["latency_ms"]]
    return {
        "requests": sum(r["requests"] for r in rows),
        "tool_calls": sum(1 for r in rows if r["kind"] == "tool"),
        "input_tokens": sum(r["input_tokens"] for r in rows),
        "output_tokens": sum(r["output_tokens"] for r in rows),
        "cost": round(sum(costs), 6) if costs else None,
        "cache_hits": hits,
        "cache_hit_rate": round(hits / len(model_rows), 4) if model_rows else None,
        "cost_saved": round(sum(saved), 6) if saved else None,
        "p50_ms": _percentile(latencies, 0.5),
        "p95_ms": _percentile(latencies, 0.95),
    }


async def usage_report(
    since: datetime.datetime | None = None, until: datetime.datetime | None = None, by: str = "model"
) -> dict[str, Any]:
    """Usage per ``by`` group between ``since`` and ``until``: ``{"by", "rows": [{"key", ...}], "total"}``.

    By ``user``, a row's key is the username (``#42 (deleted)`` for a user deleted since, ``-`` for runs without
    a user), read in one query for all of them.
    """
    if by not in GROUPS:
        raise ValueError(f"--by must be one of {', '.join(GROUPS)}")
    await flush_usage()
    query = UsageRecord.objects.all()
    if since is not None:
        query = query.filter(time__gte=since)
    if until is not None:
        query = query.filter(time__lt=until)
    fields = ("time", "kind", "model", "agent", "tool", "user_id", "route", "task", "input_tokens", "output_tokens")
    rows = await query.values(*fields, "requests", "cost", "cache_hit", "cost_saved", "latency_ms")
    usernames = await _usernames({r["user_id"] for r in rows if r["user_id"] is not None}) if by == "user" else {}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if by == "tool" and row["kind"] != "tool":
            continue
        groups[_group_value(row, by, usernames)].append(row)
    return {
        "by": by,
        "since": to_jsonable_python(since),  # as every JSON datetime fastmango writes: 2025-01-31T09:30:00Z
        "until": to_jsonable_python(until),
        "rows": [{"key": key, **_summarize(items)} for key, items in sorted(groups.items())],
        "total": _summarize(list(rows)),
    }


router = APIRouter(prefix="/ai", tags=["ai"])


#: What ``since`` and ``until`` take, as the OpenAPI document says it (anything else is a 400); empty: no bound.
MOMENT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": r"^(\d{1,12}[mhd])?$"},
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
    ]
}


@router.get("/usage", operation_id="ai_usage", dependencies=[Depends(require_staff)], responses=problem_responses(400))
async def usage_endpoint(
    since: str | None = Query("24h", description="24h, 7d or a date", json_schema_extra=MOMENT_SCHEMA),
    until: str | None = Query(None, description="A date, or a duration ago", json_schema_extra=MOMENT_SCHEMA),
    by: Group = Query("model", description="What each row of the report groups."),
) -> dict[str, Any]:
    """AI usage per model, agent, tool, user, route or day (staff only)."""
    moments = {}
    for name, value in (("since", since), ("until", until)):
        try:
            moments[name] = parse_time(value)
        except ValueError as exc:
            raise BadQueryParameter(name, f"{name}: {exc}.") from None
    return await usage_report(moments["since"], moments["until"], by)
