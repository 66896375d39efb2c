"""Cron expressions: parsing, and the next run from a given time (the clock is the argument)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fastmango.core.errors import ImproperlyConfigured
from fastmango.tasks.cron import CronSchedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/5 * * * *", "2024-03-01 12:03:10", "2024-03-01 12:05:00"),
        ("*/5 * * * *", "2024-03-01 12:05:00", "2024-03-01 12:10:00"),
        ("0 9 * * mon-fri", "2024-03-01 10:00:00", "2024-03-04 09:00:00"),  # Friday -> Monday
        ("30 2 1 * *", "2024-12-15 00:00:00", "2025-01-01 02:30:00"),
        ("0 0 29 2 *", "2023-03-01 00:00:00", "2024-02-29 00:00:00"),
        ("0 0 13 * fri", "2024-09-01 00:00:00", "2024-09-06 00:00:00"),  # day OR weekday, as in cron
        ("0 12 * * 7", "2024-03-01 00:00:00", "2024-03-03 12:00:00"),  # 7 is Sunday too
        ("0 0 * jan,jul *", "2024-02-10 00:00:00", "2024-07-01 00:00:00"),
        ("*/10 * * * * *", "2024-03-01 12:00:05.5", "2024-03-01 12:00:10"),  # six fields: seconds first
        ("@daily", "2024-03-01 12:00:00", "2024-03-02 00:00:00"),
        ("@hourly", "2024-03-01 12:00:00", "2024-03-01 13:00:00"),
        ("0-10/5 8 * * *", "2024-03-01 08:06:00", "2024-03-01 08:10:00"),
    ],
)
def test_next_after(expression: str, after: str, expected: str) -> None:
    assert CronSchedule.parse(expression).next_after(at(after)) == at(expected)


def test_next_after_is_in_utc_whatever_the_zone_of_the_input() -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2024, 3, 1, 10, 0, tzinfo=paris)  # 09:00 UTC
    assert CronSchedule.parse("30 9 * * *").next_after(moment) == at("2024-03-01 09:30:00")
    assert CronSchedule.parse("30 9 * * *").next_after(datetime(2024, 3, 1, 9, 0)) == at("2024-03-01 09:30:00")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * *", "has 3 fields"),
        ("61 * * * *", "minute 61 is outside 0-59"),
        ("*/0 * * * *", "step '0' of the minute"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("* * * foo *", "'foo' is not a valid month"),
    ],
)
def test_a_malformed_expression_names_its_field(expression: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        CronSchedule.parse(expression)


def test_a_schedule_that_never_matches_says_so() -> None:
    with pytest.raises(ImproperlyConfigured, match="never matches"):
        CronSchedule.parse("0 0 30 2 *").next_after(at("2024-01-01 00:00:00"))
