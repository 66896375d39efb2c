"""Query-string filtering, search and ordering on whitelisted fields, reusable in hand-written routes.

    spec = FilterSpec(Book, filter_fields=["title", "author__name", "published"], search_fields=["title"],
                      ordering_fields=["published", "title"])
    queryset = spec.apply(Book.objects.all(), request.query_params)

``?author__name__icontains=tol&published__gte=2020-01-01&id__in=1,2,3&search=ring&ordering=-published,title``.
A parameter that names no whitelisted field, an unknown lookup, a value of the wrong type or one its column
cannot hold (out of range, a NUL in text: :mod:`fastmango.api.bounds`) is a 400 problem naming the parameter:
never a 500, never silently ignored.

The declarations are checked when the spec is made: a field the model lacks is a
:class:`~fastmango.core.declarations.DeclarationError` (an ``ImproperlyConfigured``; ``fastmango check`` reports
it as ``fastmango.E201``) naming the model, the field and the close match, at start-up rather than at the first
request. :func:`check_fields` and :func:`check_relations` do it for other declarations (a resource's
``select_related``: ``fastmango.E202``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import Field, TypeAdapter, ValidationError

from fastmango.api.bounds import (
    JSON_BOOLEAN,
    TEXT_PATTERN,
    is_utc,
    python_type,
    transform_adapter,
    utc_moment,
    value_adapter,
)
from fastmango.core.declarations import DeclarationError, did_you_mean, report, use_instead
from fastmango.core.errors import ProblemError
from fastmango.core.problems import problem_type
from fastmango.db.compiler import ModelInfo, model_info
from fastmango.db.expressions import Q
from fastmango.db.lookups import LOOKUPS, TRANSFORMS
from fastmango.db.query import QuerySet

M = TypeVar("M")  # what the narrowed QuerySet yields

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


#: Values a ``__in`` filter takes at most (each is a bound parameter of the statement).
MAX_LIST_VALUES = 1000
#: Characters of a ``?search=`` term, unless the caller says otherwise (CRUD routers use the setting
#: ``api_max_search_length``): the term is matched with ``ILIKE '%term%'``, whose cost grows with its length.
DEFAULT_MAX_SEARCH_LENGTH = 200
_TEXT_LOOKUPS = frozenset({"contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iexact"})


#: The ``fastmango check`` ids of the api layer's declaration errors (see :mod:`fastmango.core.declarations`).
UNKNOWN_FIELD = "fastmango.E201"
UNKNOWN_RELATION = "fastmango.E202"


def field_type(model: type[Any], path: str) -> type[Any]:
    """The Python type of the column a ``relation__field`` path ends at."""
    return python_type(model, path)


def check_fields(
    model: type[Any],
    paths: Iterable[str],
    declaration: str = "fields",
    *,
    where: str | None = None,
    check_id: str = UNKNOWN_FIELD,
) -> list[str]:
    """Check that each ``relation__field`` path (or ``pk``) ends at a column of ``model``; the paths that do.

    Args:
        model: The table model the paths start from.
        paths: The declared paths (``["title", "author__name"]``).
        declaration: What declared them, for the message (``"ordering_fields"``).
        where: Whose declaration it is, for the message (the model's name by default; ``"the admin of Book"``).
        check_id: The ``fastmango check`` id of the error (the declaring layer's).

    Raises:
        DeclarationError: a path names a field the model (or a related one) lacks, or ends at a relation; the
            message names the model, the path and the close match. While ``fastmango check`` collects the errors,
            the path is left out of the result instead.
    """
    valid = []
    for path in paths:
        problem = _field_problem(model, path)
        if problem is None:
            field_type(model, path)
            valid.append(path)
            continue
        message, hint = problem
        owner = where or model.__name__
        report(DeclarationError(f"{declaration} of {owner}: {path!r}{message}", id=check_id, hint=hint, obj=owner))
    return valid


def check_relations(
    model: type[Any], paths: Iterable[str], declaration: str = "select_related", *, check_id: str = UNKNOWN_RELATION
) -> list[str]:
    """Check that each path (``author``, ``author__publisher``) follows to-one relations of ``model``; the paths
    that do.

    A resource's (or a router's) ``select_related`` is checked with it when declared.

    Args:
        model: The table model the paths start from.
        paths: The declared relation paths.
        declaration: What declared them, for the message.
        check_id: The ``fastmango check`` id of the error (the declaring layer's).

    Raises:
        DeclarationError: a step names no relation, or a to-many one (``prefetch_related`` loads those); the
            message names the model, the path and the close match (left out of the result while collecting).
    """
    valid = []
    for path in paths:
        problem = _relation_problem(model, path)
        if problem is None:
            valid.append(path)
            continue
        message, hint = problem
        owner = model.__name__
        report(DeclarationError(f"{declaration} of {owner}: {path!r}: {message}", id=check_id, hint=hint, obj=owner))
    return valid


def _field_problem(model: type[Any], path: str) -> tuple[str, str] | None:
    """What is wrong with a field path (the message after the path, and the fix), None when nothing is."""
    info = model_info(model)
    parts = path.split("__")
    for index, part in enumerate(parts[:-1]):
        relation = info.relations.get(part)
        if relation is None:
            problem, hint = _no_relation(info, part)
            if part in info.columns:  # "title__icontains": the lookup comes with the query parameter
                declared = "__".join(parts[: index + 1])
                problem += f"; declare {declared!r} (lookups come with the query)"
                hint = f"declare {declared!r}: the lookup comes with the query parameter"
            return f": {problem}", hint
        info = model_info(relation.mapper.class_)
    last = parts[-1]
    if last == "pk" or last in info.columns:
        return None
    if last in info.relations:
        key = f"{path}__{model_info(info.relations[last].mapper.class_).pk_name}"
        return (
            f" ends at the relation {last!r} of {info.model.__name__}; name one of its fields ({key}) or a column",
            f"declare {key!r} (or another field of the relation)",
        )
    return (
        f": {info.model.__name__} has no field {last!r}{did_you_mean(last, info.columns)}; "
        f"its fields are: {', '.join(sorted(info.columns))}",
        use_instead(last, info.columns, f"field of {info.model.__name__}"),
    )


def _relation_problem(model: type[Any], path: str) -> tuple[str, str] | None:
    """What is wrong with a ``select_related`` path (the message and the fix), None when nothing is."""
    info = model_info(model)
    for part in path.split("__"):
        relation = info.relations.get(part)
        if relation is None:
            return _no_relation(info, part)
        if relation.uselist:
            return (
                f"{part!r} is a to-many relation of {info.model.__name__}; load it with prefetch_related",
                f"leave {part!r} out of select_related (prefetch_related loads to-many relations)",
            )
        info = model_info(relation.mapper.class_)
    return None


def _no_relation(info: ModelInfo, name: str) -> tuple[str, str]:
    """Why ``name`` is no relation of ``info``'s model (a column, or a typo with its close match), and the fix."""
    if name in info.columns:
        return f"{name!r} is a column of {info.model.__name__}, not a relation", f"name a relation, not {name!r}"
    relations = ", ".join(sorted(info.relations)) or "none"
    return (
        f"{info.model.__name__} has no relation {name!r}{did_you_mean(name, info.relations)}; "
        f"its relations are: {relations}",
        use_instead(name, info.relations, f"relation of {info.model.__name__}"),
    )


_BOOL = TypeAdapter(Annotated[bool, JSON_BOOLEAN])
_TEXT = TypeAdapter(Annotated[str, Field(pattern=TEXT_PATTERN)])
_OUT_OF_RANGE = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_TEXT_REASONS = {
    "string_pattern_mismatch": "it contains a NUL character",
    "string_unicode": "it is not valid Unicode text",
}


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
        filter_fields = check_fields(model, filter_fields, "filter_fields")
        search_fields = check_fields(model, search_fields, "search_fields")
        ordering_fields = check_fields(model, ordering_fields, "ordering_fields")
        ordered = check_fields(model, [path.removeprefix("-") for path in default_ordering], "default_ordering")
        default_ordering = [path for path in default_ordering if path.removeprefix("-") in ordered]
        # Longest first, so that "author__name" wins over "author" for "author__name__icontains".
        self.filter_fields = sorted(filter_fields, key=len, reverse=True)
        self.search_fields = list(search_fields)
        self.ordering_fields = list(ordering_fields)
        self.default_ordering = tuple(default_ordering) or (model_info(model).pk_name,)

    def apply(
        self,
        queryset: QuerySet[M],
        params: Mapping[str, str] | Iterable[tuple[str, str]],
        *,
        max_search_length: int = DEFAULT_MAX_SEARCH_LENGTH,
    ) -> QuerySet[M]:
        """``queryset`` filtered, searched and ordered by the query parameters.

        Args:
            queryset: The QuerySet to narrow.
            params: The query parameters (``request.query_params`` or ``(key, value)`` pairs).
            max_search_length: The longest ``search`` term accepted; a longer one is a 400.
        """
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
            if len(term) > max_search_length:
                raise BadQueryParameter(
                    "search", f"The search term has {len(term)} characters; at most {max_search_length} are searched."
                )
            queryset = queryset.filter(self._search(self._convert("search", term, str, adapter=_TEXT)))
        ordering = [raw for key, raw in items if key == "ordering"]
        return queryset.order_by(*self.parse_ordering(ordering[-1] if ordering else None))

    def _search(self, term: str) -> Q:
        condition = Q()
        for index, field in enumerate(self.search_fields):
            part = Q(**{f"{field}__icontains": term})
            condition = part if index == 0 else condition | part
        return condition

    def ordering_pattern(self) -> str:
        """The pattern of an ``ordering`` value (the OpenAPI document publishes it): empty, or fields."""
        names = "|".join(re.escape(field) for field in self.ordering_fields) or re.escape(
            model_info(self.model).pk_name
        )
        return f"^(-?({names})(,-?({names}))*)?$"

    def parse_ordering(self, raw: str | None) -> tuple[str, ...]:
        """``"-published,title"`` checked against ``ordering_fields``; the primary key breaks ties.

        An empty value is the default ordering; anything else must be comma-separated fields, each with an
        optional ``-``, as :meth:`ordering_pattern` says.
        """
        if not raw:
            return self.default_ordering
        fields = raw.split(",")
        for item in fields:
            if item.removeprefix("-") not in self.ordering_fields:
                allowed = ", ".join(self.ordering_fields) or "none"
                raise BadQueryParameter(
                    "ordering", f"Cannot order by {item.removeprefix('-')!r}; allowed: {allowed} (comma-separated)."
                )
        pk = model_info(self.model).pk_name
        if not any(item.lstrip("-") in (pk, "pk") for item in fields):
            fields.append(pk)
        return tuple(fields)

    def parse_value(self, key: str, raw: str) -> Any:
        """The typed value of filter parameter ``key`` (``published__year`` -> int, ``id__in`` -> list).

        The value is checked against the column's bounds (:mod:`fastmango.api.bounds`): a value it cannot hold
        (``author_id=2147483648`` for an ``INTEGER``, a NUL in text) is a 400 naming the parameter.
        """
        field = next((f for f in self.filter_fields if key == f or key.startswith(f + "__")), None)
        if field is None:
            allowed = ", ".join(sorted(self.filter_fields)) or "none"
            raise BadQueryParameter(key, f"Unknown filter {key!r}; this endpoint filters on: {allowed}.")
        parts = key[len(field) + 2 :].split("__") if key != field else []
        for index, part in enumerate(parts):
            if part in TRANSFORMS or (part in LOOKUPS and index == len(parts) - 1):
                continue
            known = ", ".join([*LOOKUPS, *TRANSFORMS])
            name = f"{part!r}" if part else "''"
            raise BadQueryParameter(key, f"Unknown lookup {name} in {key!r}; lookups are: {known}.")
        transforms = [part for part in parts if part in TRANSFORMS]
        lookup = parts[-1] if parts and parts[-1] in LOOKUPS else "exact"
        column_type = field_type(self.model, field)
        if transforms and column_type not in (datetime.date, datetime.datetime):
            raise BadQueryParameter(key, f"{transforms[0]} applies to dates; {field!r} is not a date.")
        if lookup == "isnull":
            return self._convert(key, raw, bool, adapter=_BOOL)
        adapter = transform_adapter(transforms[-1]) if transforms else value_adapter(self.model, field)
        python_type: type[Any] = int if transforms else column_type
        # A date-time without an offset in a query means UTC, as the column stores it (bodies must give one).
        utc = python_type is datetime.datetime and is_utc(self.model, field)
        if lookup in _LIST_LOOKUPS:
            items = [item.strip() for item in raw.split(",") if item.strip()]
            if len(items) > MAX_LIST_VALUES:
                raise BadQueryParameter(key, f"{key} takes at most {MAX_LIST_VALUES} values; it has {len(items)}.")
            values = [self._convert(key, item, python_type, utc, adapter=adapter) for item in items]
            if lookup == "range" and len(values) != 2:
                raise BadQueryParameter(key, f"{key} takes two comma-separated values: low,high.")
            return values
        if lookup in _TEXT_LOOKUPS:
            return self._convert(key, raw, str, adapter=adapter if python_type is str else _TEXT)
        return self._convert(key, raw, python_type, utc, adapter=adapter)

    @staticmethod
    def _convert(key: str, raw: str, python_type: type[Any], utc: bool = False, *, adapter: TypeAdapter[Any]) -> Any:
        try:
            value = adapter.validate_python(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            shown = raw if len(raw) <= 100 else raw[:100] + "..."
            if error["type"] in _OUT_OF_RANGE:
                problem = f"is out of range: {error['msg']}"
            elif error["type"] in _TEXT_REASONS:
                problem = f"cannot be matched: {_TEXT_REASONS[error['type']]}"
            else:
                expected = {
                    datetime.date: "a date (YYYY-MM-DD)",
                    datetime.datetime: "a date-time (ISO 8601)",
                }.get(python_type, f"a valid {python_type.__name__}")
                problem = f"is not {expected}: {error['msg']}"
            raise BadQueryParameter(key, f"{key}={shown!r} {problem}.") from None
        return utc_moment(value) if utc else value
