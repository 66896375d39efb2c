"""Checks of the AI layer (``fastmango check``): agents naming unknown tools or agents, model aliases that
cannot work (fastmango.E301-E304).

The app refuses to start on each of these (the AI plugin checks the aliases at install and the agents once
discovery ran); these checks report every one of them at once, each with its fix.
"""

from __future__ import annotations

from fastmango.ai.agents import _agents, _used_agents, agents
from fastmango.ai.llm import _KEY_SETTINGS, _OFFLINE, _ids
from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.system_checks import CheckContext, Finding, register


@register("ai")
def check_agent_tools(context: CheckContext) -> list[Finding]:
    """E301: an agent's ``tools=`` names (or a glob matches) no registered tool; E302: a route's ``use_agent``
    names no declared agent."""
    findings = []
    for spec in agents():
        try:
            spec.check()
        except ImproperlyConfigured as exc:
            findings.append(
                Finding(
                    "fastmango.E301",
                    "error",
                    str(exc),
                    hint="fix the name in the agent's tools=, or declare the tool (@fastmango.tool) in a module "
                    "the project loads",
                    obj=spec.name,
                )
            )
    for route, name in _used_agents(context.app):
        if name not in _agents:
            findings.append(
                Finding(
                    "fastmango.E302",
                    "error",
                    f"use_agent({name!r}) in {route}: no agent is declared as {name!r} "
                    f"(declared: {', '.join(sorted(_agents)) or 'none'})",
                    hint="fix the name, or declare the agent (fastmango.agent(...)) in a module the project loads",
                    obj=route,
                )
            )
    return findings


@register("ai", scope="settings")
def check_model_aliases(context: CheckContext) -> list[Finding]:
    """E303: an ``ai_models`` entry that is not ``provider:name``; E304: a provider without its API key."""
    settings = context.settings
    findings = []
    for alias in settings.ai_models:
        for model_id in _ids(settings, alias):
            if model_id in _OFFLINE:
                continue
            provider, sep, name = model_id.partition(":")
            if not sep or not name:
                findings.append(
                    Finding(
                        "fastmango.E303",
                        "error",
                        f"ai_models[{alias!r}] = {model_id!r} is not a model id",
                        hint="use provider:name, e.g. openai:gpt-4.1",
                        obj=alias,
                    )
                )
            elif provider == "openai" and settings.ai_openai_api_key is None and not settings.ai_openai_base_url:
                _, variable = _KEY_SETTINGS[provider]
                findings.append(
                    Finding(
                        "fastmango.E304",
                        "error",
                        f"{variable} is not set, and ai_models[{alias!r}] = {model_id!r} needs it",
                        hint=f"set {variable} (or FASTMANGO_AI_OPENAI_BASE_URL for a local OpenAI-compatible server)",
                        obj=alias,
                    )
                )
    return findings
