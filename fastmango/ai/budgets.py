"""AI budgets (``settings.ai_budgets``): a run or tool call is refused once its window's usage reached a cap.

Usage is what ``ai_usage`` holds for the window plus the records still buffered in this process.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python

from fastmango.ai.metering import UsageRecord, meter
from fastmango.core.errors import ProblemError
from fastmango.core.problems import problem_type
from fastmango.db import Count, Sum


def window(kind: str, now: datetime.datetime | None = None) -> tuple[datetime.datetime, datetime.datetime]:
    """The UTC calendar window (``day`` or ``month``) containing ``now``: its start and when it resets."""
    now = now or datetime.datetime.now(datetime.UTC)
    if kind == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + datetime.timedelta(days=1)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + datetime.timedelta(days=32)).replace(day=1)
    return start, following


@dataclass
class Exceeded:
    """A budget whose cap was reached, and when its window resets."""

    budget: Any
    resets_at: datetime.datetime

    def problem(self) -> ProblemError:
        """The 429 problem refusing the run."""
        now = datetime.datetime.now(datetime.UTC)
        retry_after = max(1, int((self.resets_at - now).total_seconds()))
        resets_at = to_jsonable_python(self.resets_at)  # 2025-01-31T09:30:00Z, as every JSON datetime fastmango writes
        return ProblemError(
            429,
            f"The AI budget {self.budget.label} is used up; it resets at {resets_at}.",
            title="AI budget exceeded",
            type=problem_type("ai-budget-exceeded"),
            headers={"Retry-After": str(retry_after)},
            budget=self.budget.label,
            resets_at=resets_at,
        )


def _applies(budget: Any, scope: str, value: Any, name: str | None) -> bool:
    if budget.scope != scope or value is None:
        return False
    return budget.name is None or budget.name == name


async def check(budgets: list[Any], *, scope: str, value: Any, name: str | None = None) -> Exceeded | None:
    """The first budget of ``scope`` for ``value`` (a user id, agent or tool name) whose cap is reached.

    Args:
        budgets: ``settings.ai_budgets``.
        scope: ``user``, ``agent`` or ``tool``.
        value: What the ``ai_usage`` rows are filtered on (``user_id``, ``agent`` or ``tool``).
        name: What ``budget.name`` is compared to (the username for a user).
    """
    column = {"user": "user_id", "agent": "agent", "tool": "tool"}[scope]
    for budget in budgets:
        if not _applies(budget, scope, value, name):
            continue
        start, resets_at = window(budget.window)
        rows = UsageRecord.objects.filter(time__gte=start, **{column: value})
        if scope == "tool":
            rows = rows.filter(kind="tool").exclude(status="refused")
        totals = await rows.aggregate(
            input=Sum("input_tokens"),
            output=Sum("output_tokens"),
            cost=Sum("cost"),
            calls=Sum("requests"),
            n=Count("id"),
        )
        tokens = (totals["input"] or 0) + (totals["output"] or 0)
        cost = float(totals["cost"] or 0)
        calls = totals["n"] if scope == "tool" else (totals["calls"] or 0)
        for record in meter.pending():
            if (
                getattr(record, column) == value
                and record.time >= start
                and (scope != "tool" or (record.kind == "tool" and record.status != "refused"))
            ):
                tokens += record.input_tokens + record.output_tokens
                cost += record.cost or 0
                calls += 1 if scope == "tool" else record.requests
        if (
            (budget.max_tokens is not None and tokens >= budget.max_tokens)
            or (budget.max_cost is not None and cost >= budget.max_cost)
            or (budget.max_calls is not None and calls >= budget.max_calls)
        ):
            return Exceeded(budget, resets_at)
    return None
