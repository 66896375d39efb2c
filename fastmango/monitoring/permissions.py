"""The monitoring layer's permissions, declared beside the tables' own (``fastmango migrate`` creates them)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from fastmango.auth.dependencies import require_staff
from fastmango.auth.permissions import declare_permission
from fastmango.core.errors import ProblemError

VIEW = "monitoring.view"
CHANGE = "monitoring.change"

declare_permission(VIEW, "Can view the monitoring dashboard, task monitor and logs")
declare_permission(CHANGE, "Can retry and abort jobs and edit alert rules")


def require(codename: str) -> Any:
    """A dependency: the current user, staff with ``codename`` (403 otherwise, 401 when anonymous)."""

    async def dependency(user: Any = Depends(require_staff)) -> Any:
        if not await user.has_perm(codename):
            raise ProblemError(403, f"This needs the {codename} permission.", title="Forbidden")
        return user

    return Depends(dependency)
