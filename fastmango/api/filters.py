"""Query-string filtering, search and ordering on whitelisted fields, reusable in hand-written routes.

    spec = FilterSpec(Book, filter_fields=["title", "author__name", "published"], search_fields=["title"],
                      ordering_fields=["published", "title"])
    queryset = spec.apply(Book.objects.all(), request.query_params)

``?author__name__icontains=tol&published__gte=2020-01-01&id__in=1,2,3&search=ring&ordering=-published,title``.
A parameter that names no whitelisted field, an unknown lookup or a value of the wrong type is a 400
problem naming the parameter: never a 500, never silently ignored.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from fastmango.core.errors import ProblemError
from fastmango.core.problems import problem_type
from fastmango.db.compiler import model_info
from fastmango.db.expressions import Q
from fastmango.db.lookups import LOOKUPS, TRANSFORMS
from fastmango.db.query import QuerySet

RESERVED = frozenset({"limit", "offset", "cursor", "ordering", "search"})
_LIST_LOOKUPS = {"in", "range"}


class BadQueryParameter(ProblemError):
    """400: a query parameter the endpoint does not accept, or a value it cannot use."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(
            400,
            detail,
            title="Bad query parameter",
            type=problem_type("bad-query-parameter"),
            parameter=parameter,
        )


def _column(model: type[Any], path: str) -> Any:
    parts = path.split("__")
    info = model_info(model)
    for part in parts[:-1]:
        info = model_info(info.relations[part].mapper.class_)
    name = info.pk_name if parts[-1] == "pk" else parts[-1]
    return info.mapper.columns[name]


@cache
def is_utc_column(model: type[Any], path: str) -> bool:
    """Whether the column a ``relation__field`` path ends at stores UTC datetimes (every ``datetime`` field)."""
    from fastmango.db.types import UTCDateTime

    return isinstance(_column(model, path).type, UTCDateTime)


@cache
def field_type(model: type[Any], path: str) -> type[Any]:
    """The Python type of the column a ``relation__field`` path ends at."""
    column = _column(model, path)
    try:
        return column.type.python_type  # type: ignore[no-any-return]
    except NotImplementedError:
        return str


@cache
def _adapter(python_type: type[Any]) -> TypeAdapter[Any]:
    return TypeAdapter(python_type)


class FilterSpec:
    """Which fields a list endpoint filters, searches and orders on."""

    def __init__(
        self,
        model: type[Any],
        *,
        filter_fields: Sequence[str] = (),
        search_fields: Sequence[str] = (),
        ordering_fields: Sequence[str] = (),
        default_ordering: Sequence[str] = (),
    ) -> None:
        self.model = model
        for path in (*filter_fields, *search_fields, *ordering_fields):
            field_type(model, path)  # type: ignore[arg-type]  # fails early, at router creation, on a typo
        # Longest first, so that "author__name" wins over "author" for "author__name__icontains".
        self.filter_fields = sorted(filter_fields, key=len, reverse=True)
        self.search_fields = list(search_fields)
        self.ordering_fields = list(ordering_fields)
        self.default_ordering = tuple(default_ordering) or (model_info(model).pk_name,)

    def apply(self, queryset: QuerySet[Any], params: Mapping[str, str] | Iterable[tuple[str, str]]) -> QuerySet[Any]:
        """``queryset`` filtered, searched and ordered by the query parameters."""
        items = list(params.items()) if isinstance(params, Mapping) else list(params)
        conditions = []
        for key, raw in items:
            if key in RESERVED:
                continue
            conditions.append(Q(**{key: self.parse_value(key, raw)}))
        if conditions:
            queryset = queryset.filter(*conditions)
        search = [raw for key, raw in items if key == "search"]
        if search and search[-1].strip():
            if not self.search_fields:
                raise BadQueryParameter("search", "This endpoint has no search.")
            term = search[-1].strip()
            queryset = queryset.filter(self._search(term))
        ordering = [raw for key, raw in items if key == "ordering"]
        return queryset.order_by(*self.parse_ordering(ordering[-1] if ordering else None))

    def _search(self, term: str) -> Q:
        condition = Q()
        for index, field in enumerate(self.search_fields):
            part = Q(**{f"{field}__icontains": term})
            condition = part if index == 0 else condition | part
        return condition

    def parse_ordering(self, raw: str | None) -> tuple[str, ...]:
        """``"-published,title"`` checked against ``ordering_fields``; the primary key breaks ties."""
        if raw is None or not raw.strip():
            return self.default_ordering
        fields = [item.strip() for item in raw.split(",") if item.strip()]
        for item in fields:
            if item.lstrip("-") not in self.ordering_fields:
                allowed = ", ".join(self.ordering_fields) or "none"
                raise BadQueryParameter("ordering", f"Cannot order by {item.lstrip('-')!r}; allowed: {allowed}.")
        pk = model_info(self.model).pk_name
        if not any(item.lstrip("-") in (pk, "pk") for item in fields):
            fields.append(pk)
        return tuple(fields)

    def parse_value(self, key: str, raw: str) -> Any:
        """The typed value of filter parameter ``key`` (``published__year`` -> int, ``id__in`` -> list)."""
        field = next((f for f in self.filter_fields if key == f or key.startswith(f + "__")), None)
        if field is None:
            allowed = ", ".join(sorted(self.filter_fields)) or "none"
            raise BadQueryParameter(key, f"Unknown filter {key!r}; this endpoint filters on: {allowed}.")
        parts = [part for part in key[len(field) :].split("__") if part]
        for index, part in enumerate(parts):
            if part in TRANSFORMS or (part in LOOKUPS and index == len(parts) - 1):
                continue
            known = ", ".join([*LOOKUPS, *TRANSFORMS])
            raise BadQueryParameter(key, f"Unknown lookup {part!r} in {key!r}; lookups are: {known}.")
        transforms = [part for part in parts if part in TRANSFORMS]
        lookup = parts[-1] if parts and parts[-1] in LOOKUPS else "exact"
        column_type = field_type(self.model, field)  # type: ignore[arg-type]
        if transforms and column_type not in (datetime.date, datetime.datetime):
            raise BadQueryParameter(key, f"{transforms[0]} applies to dates; {field!r} is not a date.")
        python_type: type[Any] = int if transforms else column_type
        if lookup == "isnull":
            return self._convert(key, raw, bool)
        # A date-time without an offset in a query means UTC, as the column stores it (bodies must give one).
        utc = python_type is datetime.datetime and is_utc_column(self.model, field)  # type: ignore[arg-type]
        if lookup in _LIST_LOOKUPS:
            values = [self._convert(key, item.strip(), python_type, utc) for item in raw.split(",") if item.strip()]
            if lookup == "range" and len(values) != 2:
                raise BadQueryParameter(key, f"{key} takes two comma-separated values: low,high.")
            return values
        if lookup in {"contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iexact"}:
            return raw
        return self._convert(key, raw, python_type, utc)

    @staticmethod
    def _convert(key: str, raw: str, python_type: type[Any], utc: bool = False) -> Any:
        if python_type is str:
            return raw
        try:
            value = _adapter(python_type).validate_python(raw)  # type: ignore[arg-type]
        except ValidationError as exc:
            expected = {datetime.date: "a date (YYYY-MM-DD)", datetime.datetime: "a date-time (ISO 8601)"}.get(
                python_type, f"a valid {python_type.__name__}"
            )
            reason = exc.errors()[0]["msg"]
            raise BadQueryParameter(key, f"{key}={raw!r} is not {expected}: {reason}.") from None
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            raise BadQueryParameter(key, f"{key}={raw!r} is out of range.")
        if utc and isinstance(value, datetime.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value
