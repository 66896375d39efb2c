"""fastmango.tasks.system_checks: a cron schedule that never fires (fastmango.E401)."""

from __future__ import annotations

from fastmango import Settings, task
from fastmango.core.system_checks import CheckContext
from fastmango.tasks.system_checks import check_schedules

CONTEXT = CheckContext(Settings(database_url="sqlite:///:memory:"), app=object())


def test_a_schedule_on_february_30th_is_an_error_naming_the_task() -> None:
    @task(cron="0 0 30 2 *")
    async def leap_report(ctx: object) -> None: ...

    found = check_schedules(CONTEXT)
    assert [(f.id, f.obj) for f in found] == [("fastmango.E401", "leap_report")]
    assert "never matches a date" in found[0].message


def test_schedules_that_fire_and_unscheduled_tasks_are_fine() -> None:
    @task(cron="*/5 * * * *")
    async def every_five(ctx: object) -> None: ...

    @task(cron="0 0 29 2 *")  # leap years only, still a date
    async def leap_day(ctx: object) -> None: ...

    @task
    async def plain(ctx: object) -> None: ...

    assert check_schedules(CONTEXT) == []
