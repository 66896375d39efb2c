"""Deploy checks of the developer tools (``fastmango check --deploy``): the debug panel turned on in production
(fastmango.W951)."""

from __future__ import annotations

from fastmango.core.system_checks import CheckContext, Finding, register


@register("deploy", scope="settings", deploy=True)
def check_debug_panel(context: CheckContext) -> list[Finding]:
    """W951: ``debug_panel=True`` (it is off in prod unless set)."""
    settings = context.settings
    if settings.debug_panel is not True:
        return []
    return [
        Finding(
            "fastmango.W951",
            "warning",
            f"the debug panel is on (DEBUG_PANEL=true) at {settings.debug_panel_path}: staff users' requests are "
            "recorded with their SQL, parameters and logs, readable by every staff user with debug.view",
            hint="remove FASTMANGO_DEBUG_PANEL=true for production (turn it on for a while when you investigate)",
            obj="debug_panel",
        )
    ]
