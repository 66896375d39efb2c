"""Alert rules in the admin and the CRUD layer, under the monitoring permissions.

Staff with ``monitoring.view`` list and read the rules; ``monitoring.change`` adds, edits and deletes them (the
model permissions ``monitoring_alert_rule.*`` are not used: one permission for all of monitoring's changes is
what an operator grants). Writes are checked (:func:`fastmango.monitoring.alerts.check_values`): an unknown metric
is a 422 naming its close match. The state columns are read-only: the evaluator keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastmango.api.resource import ModelResource
from fastmango.auth.policies import READ_ACTIONS, ModelPermissions
from fastmango.core.errors import ProblemError
from fastmango.monitoring.alerts import STATE_FIELDS, AlertRule, AlertRuleError, check_values
from fastmango.monitoring.permissions import CHANGE, VIEW

if TYPE_CHECKING:
    from fastmango.admin.options import ModelAdmin
    from fastmango.admin.site import AdminSite
    from fastmango.api.caller import Caller


class MonitoringPermissions(ModelPermissions):
    """Reads need ``monitoring.view``, writes ``monitoring.change``."""

    def required(self, action: str) -> tuple[str, ...]:
        return (VIEW,) if action in READ_ACTIONS else (CHANGE,)


def _checked(caller: Caller, values: dict[str, Any]) -> dict[str, Any]:
    try:
        checked = check_values(values)
    except AlertRuleError as exc:
        raise ProblemError(
            422,
            str(exc),
            title="Validation failed",
            errors=[{"field": exc.field, "message": exc.message}],
        ) from None
    for name in STATE_FIELDS:  # the evaluator's, not the editor's
        checked.pop(name, None)
    return checked


alert_rules: ModelResource[AlertRule] = ModelResource(
    AlertRule,
    permissions=MonitoringPermissions(AlertRule.__tablename__),
    filter_fields=["enabled", "state", "metric"],
    search_fields=["name", "metric"],
    ordering_fields=["name", "state", "since"],
    before_create=_checked,
    before_update=_checked,
)
"""The alert rules as every surface sees them (admin, CRUD, tools)."""


def register_alert_rules(site: AdminSite) -> ModelAdmin:
    """Register the alert rules on ``site`` (a project's own registration of them, later, replaces this one)."""
    return site.register(
        alert_rules,
        list_display=["id", "name", "metric", "comparison", "threshold", "window_seconds", "enabled", "state", "since"],
        list_filter=["enabled", "state"],
        search_fields=["name", "metric"],
        ordering=["name"],
        readonly_fields=list(STATE_FIELDS),
        fieldsets=[
            (None, ["name", "enabled"]),
            ("Condition", ["metric", "comparison", "threshold", "window_seconds", "fire_on_no_data"]),
            ("Notifications", ["notifiers", "cooldown_seconds"]),
            ("State", list(STATE_FIELDS)),
        ],
        label="Alert rules",
        label_singular="Alert rule",
    )
