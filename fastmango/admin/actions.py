"""Admin actions: functions run on the rows a staff user selected, declared once, also offered as AI tools.

    @admin.action(permission="post.change", label="Publish", confirm=True)
    async def publish(caller: Caller, queryset: QuerySet[Post]) -> int:
        \"\"\"Publish the selected posts.\"\"\"
        return await queryset.update(published=True)

    admin.register(post_resource, actions=[publish])

The queryset holds only the selected rows the caller may see (the resource's rows for the caller); the function
returns how many rows it changed, or a message. Registering it makes the tool ``post_publish`` (argument
``pks``) under the same permission, which waits for a human's approval like every write tool. Each run records a
history entry (action ``action``) for every selected row.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from fastmango.api.caller import Caller
from fastmango.api.history import history
from fastmango.api.labels import object_label
from fastmango.auth.checks import check, is_authenticated
from fastmango.core.errors import ProblemError
from fastmango.db.query import QuerySet
from fastmango.db.session import transaction

if TYPE_CHECKING:
    from fastmango.api.resource import ModelResource

ActionFunction = Callable[[Caller, QuerySet[Any]], Awaitable[int | str | None]]
#: The most rows one action run takes.
MAX_ACTION_ROWS = 1000


@dataclass
class AdminAction:
    """An action of a model's admin.

    Attributes:
        name: Its name (the function's): the URL ``/actions/<name>`` and the tool ``<model>_<name>``.
        function: ``async function(caller, queryset) -> int | str | None``.
        label: What the button says.
        permission: The permission a user needs to run it; None: the model's change permission (delete's for the
            built-in ``delete``).
        confirm: Whether the UI asks before running it.
        description: What it does (the docstring by default): the UI's help and the tool's description.
        tool: Whether registering it also registers an AI tool.
    """

    name: str
    function: ActionFunction
    label: str
    permission: str | None = None
    confirm: bool = True
    description: str = ""
    tool: bool = True

    def required(self, resource: ModelResource[Any]) -> tuple[str, ...]:
        """The permissions that running it on ``resource``'s rows needs."""
        if self.permission is not None:
            return (self.permission,)
        return resource.required("delete" if self.name == "delete" else "update")

    async def allowed(self, caller: Caller, resource: ModelResource[Any]) -> bool:
        """Whether ``caller`` may run it (an anonymous or inactive user never may)."""
        user = caller.user
        if not is_authenticated(user) or not getattr(user, "is_active", False):
            return False
        if self.permission is None:
            return await resource.allowed(caller, "delete" if self.name == "delete" else "update")
        return await check(user, self.permission)

    def describe(self) -> dict[str, Any]:
        """The action as the site schema lists it."""
        return {"name": self.name, "label": self.label, "confirm": self.confirm, "description": self.description}


@overload
def action(function: ActionFunction, /) -> AdminAction: ...


@overload
def action(
    *,
    name: str | None = None,
    label: str | None = None,
    permission: str | None = None,
    confirm: bool = True,
    description: str | None = None,
    tool: bool = True,
) -> Callable[[ActionFunction], AdminAction]: ...


def action(function: ActionFunction | None = None, /, **options: Any) -> Any:
    """Declare an admin action; use bare (``@admin.action``) or with options.

    Args:
        name: The action's name (the function's by default).
        label: The button's text (the name, capitalized, by default).
        permission: The permission needed (the model's change permission by default).
        confirm: Ask before running it in the UI (the AI tool always waits for approval).
        description: What it does (the docstring by default).
        tool: Also offer it as an AI tool (``<model>_<name>``) once registered on a model.
    """

    def declare(func: ActionFunction) -> AdminAction:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"admin action {func.__name__!r} must be an async function (caller, queryset)")
        name = options.get("name") or func.__name__
        return AdminAction(
            name=name,
            function=func,
            label=options.get("label") or name.replace("_", " ").capitalize(),
            permission=options.get("permission"),
            confirm=options.get("confirm", True),
            description=options.get("description") or inspect.cleandoc(func.__doc__ or "").split("\n\n")[0],
            tool=options.get("tool", True),
        )

    return declare(function) if function is not None else declare


async def _delete_selected(caller: Caller, queryset: QuerySet[Any]) -> int:
    raise NotImplementedError  # run_action deletes through the resource, row by row, with their history


DELETE = AdminAction(
    name="delete",
    function=_delete_selected,
    label="Delete selected",
    confirm=True,
    description="Delete the selected rows.",
)
"""The built-in bulk delete, offered to users with the model's delete permission."""


async def run_action(
    resource: ModelResource[Any], admin_action: AdminAction, caller: Caller, pks: Sequence[Any]
) -> dict[str, Any]:
    """Run ``admin_action`` on the rows ``pks`` of ``resource`` that ``caller`` may see, in one transaction.

    Returns:
        ``{"done": rows, "message": text}``.

    Raises:
        ProblemError: 403 when the caller may not run it; 400 for too many rows.
    """
    if not await admin_action.allowed(caller, resource):
        missing = ", ".join(admin_action.required(resource)) or admin_action.name
        raise ProblemError(403, f"Running {admin_action.name!r} needs {missing}.", title="Permission denied")
    keys = list(dict.fromkeys(pks))
    if len(keys) > MAX_ACTION_ROWS:
        raise ProblemError(400, f"An action takes at most {MAX_ACTION_ROWS} rows; {len(keys)} were selected.")
    pk_name = resource.info.pk_name
    async with transaction():
        queryset = (await resource.queryset(caller)).filter(**{f"{pk_name}__in": keys})
        rows = await queryset.values()
        if admin_action is DELETE:
            for row in rows:
                await resource.delete(caller, row[pk_name])
            return {"done": len(rows), "message": f"Deleted {len(rows)} {resource.name} row(s)."}
        result = await admin_action.function(caller, queryset)
        for row in rows:
            await history.record(
                caller,
                resource.model,
                "action",
                row[pk_name],
                {},
                label=object_label(resource.model, row),
                via=admin_action.name,
            )
    done = result if isinstance(result, int) and not isinstance(result, bool) else len(rows)
    message = result if isinstance(result, str) else f"{admin_action.label}: {done} {resource.name} row(s)."
    return {"done": done, "message": message}
