"""Deploy checks of the AI layer (``fastmango check --deploy``): real models with no budget on their use
(fastmango.W931).

An alias whose provider key is missing is the ordinary check's E304, which runs under ``--deploy`` too, on the
production settings.
"""

from __future__ import annotations

from fastmango.ai.llm import _OFFLINE, _ids
from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.system_checks import CheckContext, Finding, register


@register("deploy", scope="settings", deploy=True)
def check_budgets(context: CheckContext) -> list[Finding]:
    """W931: an ``ai_models`` alias runs a real (paid) model and ``ai_budgets`` caps nothing."""
    settings = context.settings
    if settings.ai_budgets:
        return []
    paid = []
    for alias in settings.ai_models:
        try:
            if any(model_id not in _OFFLINE for model_id in _ids(settings, alias)):
                paid.append(alias)
        except ImproperlyConfigured:
            continue
    if not paid:
        return []
    return [
        Finding(
            "fastmango.W931",
            "warning",
            f"ai_models {', '.join(repr(alias) for alias in paid)} run real models and no ai_budgets entry caps "
            "their use: a looping agent or one busy user spends without limit",
            hint='set FASTMANGO_AI_BUDGETS=\'[{"scope": "user", "window": "day", "max_tokens": 200000}, '
            '{"scope": "agent", "window": "month", "max_cost": 50}]\' (docs/ai-usage.md)',
            obj=paid[0],
        )
    ]
