"""Column types fastmango adds: ``UTCDateTime``, a timezone-aware datetime on every database."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import DateTime, Interval
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from fastmango.db.errors import NaiveDatetimeError


class UTCDateTime(TypeDecorator[datetime.datetime]):
    """Stores UTC and always returns timezone-aware UTC datetimes (``TIMESTAMP WITH TIME ZONE`` on PostgreSQL).

    Every ``datetime`` field of a ``fastmango.db.Model`` table gets this type unless it names another one.
    SQLite keeps no offset, so a plain ``DateTime(timezone=True)`` comes back naive there; this type
    converts aware values to UTC on the way in and marks them UTC on the way out. A naive value is refused
    (:class:`~fastmango.db.errors.NaiveDatetimeError`): it names no instant, and guessing its zone would
    store a wrong one.

    Attributes:
        field: ``Model.field`` the column belongs to, for error messages (set when the model is mapped).
    """

    impl = DateTime(timezone=True)
    cache_ok = True
    field: str | None = None

    @property
    def python_type(self) -> type[datetime.datetime]:
        return datetime.datetime

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        # ``created_at + timedelta(days=1)`` binds an interval, not a timestamp.
        if isinstance(value, datetime.timedelta):
            return Interval()
        return self

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, datetime.datetime):
            if value.utcoffset() is None:
                raise NaiveDatetimeError(naive_datetime_message(self.field or "a UTCDateTime column", value))
            value = value.astimezone(datetime.UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                return value.replace(tzinfo=datetime.UTC)  # SQLite: stored as UTC without an offset
            return value.astimezone(datetime.UTC)
        return value


def naive_datetime_message(field: str, value: datetime.datetime) -> str:
    """The one-line error for a naive datetime given to a UTC column (``field`` is ``Model.field``)."""
    return (
        f"{field} got a naive datetime {value.isoformat(sep=' ')}; give it a time zone "
        "(datetime.now(UTC), or value.replace(tzinfo=...)), or declare the field as pydantic.NaiveDatetime "
        "to store datetimes without one"
    )
