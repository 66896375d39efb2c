"""Validate a task's arguments against its type hints, and carry them as JSON (never pickle).

At enqueue time the caller's arguments are bound to the function's parameters, validated by pydantic and
dumped to JSON-compatible values; a worker validates that JSON again, which turns it back into the
annotated types (datetimes, UUIDs, pydantic models...). Parameters left out take the function's defaults
when the job runs.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any, NotRequired, Required

import orjson
from pydantic import ConfigDict, PydanticSchemaGenerationError, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python
from typing_extensions import TypedDict

from fastmango.core.errors import ImproperlyConfigured
from fastmango.tasks.errors import TaskArgumentError

_UNSUPPORTED_KINDS = {
    inspect.Parameter.VAR_POSITIONAL: "*args",
    inspect.Parameter.VAR_KEYWORD: "**kwargs",
    inspect.Parameter.POSITIONAL_ONLY: "positional-only parameters",
}


class TaskArguments:
    """The parameters of a task function after its first (the :class:`~fastmango.tasks.TaskContext`).

    Raises:
        ImproperlyConfigured: the function has no context parameter, takes ``*args``/``**kwargs``, or has a
            parameter whose type pydantic cannot validate.
    """

    def __init__(self, name: str, func: Callable[..., Any]) -> None:
        self.task = name
        self.signature = inspect.signature(func)
        params = list(self.signature.parameters.values())
        if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
            raise ImproperlyConfigured(
                f"task {name!r}: a task function takes the TaskContext as its first parameter: "
                f"async def {func.__name__}(ctx: fastmango.TaskContext, ...)"
            )
        try:
            hints = typing.get_type_hints(func, include_extras=True)
        except NameError as exc:
            raise ImproperlyConfigured(f"task {name!r}: cannot resolve a type hint: {exc}") from exc
        fields: dict[str, Any] = {}
        for param in params[1:]:
            if param.kind in _UNSUPPORTED_KINDS:
                raise ImproperlyConfigured(
                    f"task {name!r}: {_UNSUPPORTED_KINDS[param.kind]} are not supported ({param.name}); "
                    "give each argument a name of its own"
                )
            annotation = hints.get(param.name, Any)
            fields[param.name] = Required[annotation] if param.default is param.empty else NotRequired[annotation]
        self.names = list(fields)
        self.required = [n for n in fields if self.signature.parameters[n].default is inspect.Parameter.empty]
        make_typed_dict: Any = TypedDict  # built at run time from the signature
        schema = make_typed_dict(f"{name}_arguments", fields)
        schema.__pydantic_config__ = ConfigDict(extra="forbid")
        try:
            self.adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(schema)
        except PydanticSchemaGenerationError as exc:
            raise ImproperlyConfigured(
                f"task {name!r}: its arguments must be JSON-serializable types pydantic can validate: {exc}"
            ) from exc
        returns = hints.get("return", Any)
        self.returns: TypeAdapter[Any] | None = None
        if returns not in (Any, None, type(None)):
            try:
                self.returns = TypeAdapter(returns)
            except PydanticSchemaGenerationError as exc:
                raise ImproperlyConfigured(
                    f"task {name!r}: its return type must be JSON-serializable and known to pydantic: {exc}"
                ) from exc

    def dump(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Bind and validate the caller's arguments; return them as a JSON-compatible dict.

        Raises:
            TaskArgumentError: an argument is missing, unknown or of the wrong type; the message names it.
        """
        if len(args) > len(self.names):
            raise TaskArgumentError(
                self.task, f"it takes {len(self.names)} argument(s) after the context, {len(args)} were given"
            )
        values = dict(zip(self.names, args, strict=False))
        for name in kwargs.keys() & values.keys():
            raise TaskArgumentError(self.task, f"{name}: given both by position and by name")
        values.update(kwargs)
        try:
            validated = self.adapter.validate_python(values)
            dumped: dict[str, Any] = self.adapter.dump_python(validated, mode="json")
        except ValidationError as exc:
            raise TaskArgumentError(self.task, _describe(exc), _plain_errors(exc)) from exc
        return dumped

    def load(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Turn the JSON arguments of a job back into keyword arguments of the annotated types.

        Raises:
            TaskArgumentError: the payload no longer matches the function (it changed since the job was enqueued).
        """
        try:
            return dict(self.adapter.validate_json(orjson.dumps(payload)))
        except ValidationError as exc:
            raise TaskArgumentError(self.task, _describe(exc), _plain_errors(exc)) from exc

    def dump_result(self, value: Any) -> Any:
        """The task's return value as JSON-compatible data (validated against the return type when there is one)."""
        if self.returns is None:
            return to_jsonable_python(value)
        return self.returns.dump_python(value, mode="json")

    def load_result(self, value: Any) -> Any:
        """A stored JSON result, validated back into the task's return type."""
        if self.returns is None or value is None:
            return value
        return self.returns.validate_json(orjson.dumps(value))


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        message = "unexpected argument" if item["type"] == "extra_forbidden" else item["msg"]
        if item["type"] == "missing":
            message = "missing required argument"
        shown = "" if item["type"] in {"missing", "extra_forbidden"} else f" (got {item.get('input')!r:.60})"
        parts.append(f"{where}: {message}{shown}")
    return "; ".join(parts)


def _plain_errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {key: item[key] for key in ("type", "loc", "msg", "input") if key in item}
        for item in error.errors(include_url=False)
    ]
