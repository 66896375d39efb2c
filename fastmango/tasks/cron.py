"""Cron expressions: ``"*/5 * * * *"`` (minute hour day month weekday), evaluated in UTC.

A sixth field in front gives seconds (``"*/10 * * * * *"``: every ten seconds), as in Quartz and Spring.
``@hourly``, ``@daily``, ``@weekly``, ``@monthly`` and ``@yearly`` are accepted. As in classic cron, when
both the day of the month and the day of the week are restricted, a day matching either runs.
Both backends use :meth:`CronSchedule.next_after`, so a schedule fires at the same times everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastmango.core.errors import ImproperlyConfigured

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {
    m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
}
_WEEKDAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
# (name, lowest, highest, names)
_FIELDS = [
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
]
_SEARCH_LIMIT = timedelta(days=366 * 5)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression. Build one with :meth:`parse`."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse ``expression``.

        Raises:
            ImproperlyConfigured: the expression is malformed; the message names the field.
        """
        text = _MACROS.get(expression.strip().lower(), expression.strip())
        parts = text.split()
        if len(parts) == 5:
            parts = ["0", *parts]
        if len(parts) != 6:
            raise ImproperlyConfigured(
                f"cron {expression!r} has {len(parts)} fields; use 5 (minute hour day month weekday), "
                "or 6 with seconds first"
            )
        values = [_parse_field(part, *spec, expression=expression) for part, spec in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(0 if d == 7 else d for d in values[5])
        return cls(
            expression=expression,
            seconds=values[0],
            minutes=values[1],
            hours=values[2],
            days=values[3],
            months=values[4],
            weekdays=weekdays,
            days_restricted=parts[3] not in {"*", "?"},
            weekdays_restricted=parts[5] not in {"*", "?"},
        )

    def _day_matches(self, moment: datetime) -> bool:
        day_ok = moment.day in self.days
        weekday_ok = (moment.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok

    def next_after(self, moment: datetime) -> datetime:
        """The first time strictly after ``moment`` that the schedule matches (UTC, whole seconds).

        A naive ``moment`` is taken as UTC.

        Raises:
            ImproperlyConfigured: the schedule never matches (``0 0 30 2 *``: February 30th).
        """
        start = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        current = start.replace(microsecond=0) + timedelta(seconds=1)
        limit = start + _SEARCH_LIMIT
        while current <= limit:
            if current.month not in self.months:
                year, month = (current.year + 1, 1) if current.month == 12 else (current.year, current.month + 1)
                current = current.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
            elif not self._day_matches(current):
                current = current.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif current.hour not in self.hours:
                current = current.replace(minute=0, second=0) + timedelta(hours=1)
            elif current.minute not in self.minutes:
                current = current.replace(second=0) + timedelta(minutes=1)
            elif current.second not in self.seconds:
                current += timedelta(seconds=1)
            else:
                return current
        raise ImproperlyConfigured(f"cron {self.expression!r} never matches a date")

    def __str__(self) -> str:
        return self.expression


def _parse_field(
    text: str, name: str, low: int, high: int, names: dict[str, int], *, expression: str
) -> frozenset[int]:
    values: set[int] = set()

    def number(token: str) -> int:
        token = token.strip().lower()
        if token in names:
            return names[token]
        if not token.isdigit():
            raise ImproperlyConfigured(f"cron {expression!r}: {token!r} is not a valid {name}")
        value = int(token)
        if not low <= value <= high:
            raise ImproperlyConfigured(f"cron {expression!r}: {name} {value} is outside {low}-{high}")
        return value

    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ImproperlyConfigured(
                    f"cron {expression!r}: step {step_text!r} of the {name} is not a positive number"
                )
            step = int(step_text)
        if base in {"*", "?"}:
            first, last = low, high
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first, last = number(first_text), number(last_text)
            if first > last:
                raise ImproperlyConfigured(f"cron {expression!r}: the {name} range {base!r} runs backwards")
        else:
            first = number(base)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    if name == "day of week" and text in {"*", "?"}:
        values.discard(7)
    return frozenset(values)
