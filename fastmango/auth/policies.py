"""Permission policies: who may list, get, create, update, replace or delete a model's rows.

A model resource (CRUD over HTTP, AI model tools, the admin) holds one :class:`Policy`; ``policy_for`` turns the
``permissions=`` values it is declared with into one:

- ``True``: :class:`ModelPermissions`, every action needs ``<table>.view/add/change/delete``;
- ``"writes"``: :class:`OpenReads`, reads are open and writes need the permission;
- ``False``: :class:`Open`, nothing is checked;
- ``callable(user, action) -> bool | Awaitable[bool]``: :class:`CallablePolicy`;
- a :class:`Policy` object: itself.

``await authorize(policy, user, action)`` refuses with 401 (anonymous) or 403 (signed in).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, runtime_checkable

from fastmango.auth.checks import first_missing, is_authenticated
from fastmango.auth.errors import NotAuthenticated, PermissionDenied
from fastmango.auth.permissions import codename

READ_ACTIONS = frozenset({"list", "get", "view"})

PolicyCheck = Callable[[Any, str], bool | Awaitable[bool]]
"""``check(user, action)``: the user is None when anonymous; the action a CRUD action (list, get, create...)."""
PolicySpec = bool | Literal["writes"] | PolicyCheck


@runtime_checkable
class Policy(Protocol):
    """Decides whether a user may do an action on a model's rows, and on one row."""

    def guarded(self, action: str) -> bool:
        """Whether ``action`` can be refused at all (its 401/403 answers are documented when it can)."""
        ...

    def required(self, action: str) -> tuple[str, ...]:
        """The permissions ``action`` needs, when the policy can name them (empty when open or decided by code)."""
        ...

    async def allows(self, user: Any, action: str) -> bool:
        """Whether ``user`` (None or anonymous: not signed in) may ``action``."""
        ...

    async def has_object_permission(self, user: Any, obj: Any) -> bool:
        """Whether ``user`` may act on the row ``obj`` once ``allows`` said yes."""
        ...


class BasePolicy:
    """Defaults for a policy: every row of an allowed action is allowed."""

    table: str = ""

    def guarded(self, action: str) -> bool:
        return True

    def required(self, action: str) -> tuple[str, ...]:
        return ()

    async def allows(self, user: Any, action: str) -> bool:
        raise NotImplementedError

    async def has_object_permission(self, user: Any, obj: Any) -> bool:
        return True

    def refusal(self, user: Any, action: str) -> PermissionDenied:
        """The 403 of a signed-in user refused ``action``."""
        return PermissionDenied(f"Not allowed to {action} {self.table or 'these rows'}.")


class Open(BasePolicy):
    """Anyone may do anything."""

    def __init__(self, table: str = "") -> None:
        self.table = table

    def guarded(self, action: str) -> bool:
        return False

    async def allows(self, user: Any, action: str) -> bool:
        return True


class ModelPermissions(BasePolicy):
    """Every action needs the model permission: ``<table>.view`` to list or get, ``.add`` to create..."""

    def __init__(self, table: str) -> None:
        self.table = table

    def required(self, action: str) -> tuple[str, ...]:
        return (codename(self.table, action),)

    def guarded(self, action: str) -> bool:
        return bool(self.required(action))

    async def allows(self, user: Any, action: str) -> bool:
        return await first_missing(user, *self.required(action)) is None

    def refusal(self, user: Any, action: str) -> PermissionDenied:
        [needed] = self.required(action)
        return PermissionDenied(f"Missing permission {needed}.", permission=needed)


class OpenReads(ModelPermissions):
    """Reads (list, get) are open; writes need the model permission (``permissions="writes"``)."""

    def required(self, action: str) -> tuple[str, ...]:
        return () if action in READ_ACTIONS else super().required(action)


class CallablePolicy(BasePolicy):
    """``check(user, action)`` decides (the user is None when anonymous); it may be a coroutine function."""

    def __init__(self, check: PolicyCheck, table: str = "") -> None:
        self.check = check
        self.table = table

    async def allows(self, user: Any, action: str) -> bool:
        verdict = self.check(user if is_authenticated(user) else None, action)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)


def policy_for(spec: PolicySpec | Policy, table: str) -> Policy:
    """The policy of a ``permissions=`` value (``True``, ``False``, ``"writes"``, a callable or a policy)."""
    if isinstance(spec, bool):
        return ModelPermissions(table) if spec else Open(table)
    if spec == "writes":
        return OpenReads(table)
    if isinstance(spec, Policy):
        return spec
    if callable(spec):
        return CallablePolicy(spec, table)
    raise TypeError(f"permissions= takes True, False, 'writes', a callable(user, action) or a Policy, not {spec!r}")


async def authorize(policy: Policy, user: Any, action: str, obj: Any = None) -> None:
    """Refuse unless ``policy`` allows ``user`` to ``action`` (on ``obj``, when given).

    Raises:
        NotAuthenticated: A refused anonymous caller (401).
        PermissionDenied: A refused signed-in user (403, naming the missing permission when there is one).
    """
    if policy.guarded(action) and not await policy.allows(user, action):
        if not is_authenticated(user):
            raise NotAuthenticated()
        refusal = getattr(policy, "refusal", None)
        raise refusal(user, action) if refusal is not None else PermissionDenied(f"Not allowed to {action}.")
    if obj is not None and not await policy.has_object_permission(user, obj):
        if not is_authenticated(user):
            raise NotAuthenticated()
        table = getattr(policy, "table", "") or "row"
        raise PermissionDenied(f"Not allowed to {action} this {table}.")
