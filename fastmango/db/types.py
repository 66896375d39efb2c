"""Column types fastmango adds: ``UTCDateTime``, a timezone-aware datetime on every database."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime.datetime]):
    """Stores UTC and always returns timezone-aware datetimes (``TIMESTAMP WITH TIME ZONE`` on PostgreSQL).

    SQLite keeps no offset, so a plain ``DateTime(timezone=True)`` comes back naive there; this type
    converts aware values to UTC on the way in and marks them UTC on the way out. Naive values are taken
    to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime.datetime]:
        return datetime.datetime

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, datetime.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=datetime.UTC)
        return value
