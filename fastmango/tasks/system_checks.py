"""Checks of the tasks layer (``fastmango check``): cron schedules that never fire (fastmango.E401).

A malformed cron expression already fails the ``@task`` declaration, so the project does not load; a well-formed
one can still name a date that never comes (``0 0 30 2 *``: February 30th), which only shows when the schedule
starts.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.system_checks import CheckContext, Finding, register
from fastmango.tasks.definition import registered_tasks


@register("tasks")
def check_schedules(context: CheckContext) -> list[Finding]:
    """E401: a task's cron schedule matches no date."""
    findings = []
    now = datetime.now(UTC)
    for task in registered_tasks():
        if task.schedule is None:
            continue
        try:
            task.schedule.next_after(now)
        except ImproperlyConfigured as exc:
            findings.append(
                Finding(
                    "fastmango.E401",
                    "error",
                    f"task {task.name!r}: {exc}, so it never runs",
                    hint="fix the day of the month and the month of its cron= (a day that month has)",
                    obj=task.name,
                )
            )
    return findings
