"""Model aliases: ``settings.ai_models = {"default": "test", "smart": "openai:gpt-4.1"}``.

``check_models`` validates the aliases at start-up without importing Pydantic AI; ``resolve_model`` builds
the Pydantic AI model when an agent first runs. An OpenAI-compatible server (Ollama, vLLM, LM Studio) is
``ai_openai_base_url``; a list of ids is a fallback chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.lazy import require

if TYPE_CHECKING:
    from fastmango.core.settings import Settings

_KEY_SETTINGS = {"openai": ("ai_openai_api_key", "OPENAI_API_KEY")}
_OFFLINE = {"test"}


def _ids(settings: Settings, alias: str) -> list[str]:
    try:
        value = settings.ai_models[alias]
    except KeyError:
        known = ", ".join(sorted(settings.ai_models)) or "none"
        raise ImproperlyConfigured(
            f"unknown AI model alias {alias!r}; aliases in the ai_models setting: {known} "
            '(set FASTMANGO_AI_MODELS=\'{"default": "test", "smart": "openai:gpt-4.1"}\')'
        ) from None
    return [value] if isinstance(value, str) else list(value)


def check_models(settings: Settings) -> None:
    """Refuse aliases whose provider cannot work: an id without a provider, or a missing API key."""
    for alias in settings.ai_models:
        for model_id in _ids(settings, alias):
            if model_id in _OFFLINE:
                continue
            provider, sep, name = model_id.partition(":")
            if not sep or not name:
                raise ImproperlyConfigured(
                    f"ai_models[{alias!r}] = {model_id!r} is not a model id; use provider:name, e.g. openai:gpt-4.1"
                )
            if provider == "openai" and settings.ai_openai_api_key is None and not settings.ai_openai_base_url:
                _, variable = _KEY_SETTINGS[provider]
                raise ImproperlyConfigured(
                    f"{variable} is not set, and ai_models[{alias!r}] = {model_id!r} needs it; set {variable} "
                    "(or FASTMANGO_AI_OPENAI_BASE_URL for a local OpenAI-compatible server)"
                )


def resolve_model(model: Any, settings: Settings) -> Any:
    """A Pydantic AI model for an alias of ``settings.ai_models``, or ``model`` itself when it is one."""
    if not isinstance(model, str):
        return model
    require("pydantic_ai", extra="ai")
    models = [_build(model_id, settings) for model_id in _ids(settings, model)]
    if len(models) == 1:
        return models[0]
    from pydantic_ai.models.fallback import FallbackModel

    return FallbackModel(*models)


def _build(model_id: str, settings: Settings) -> Any:
    if model_id == "test":
        from pydantic_ai.models.test import TestModel

        return TestModel()
    provider, _, name = model_id.partition(":")
    if provider == "openai":
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        key = settings.ai_openai_api_key.get_secret_value() if settings.ai_openai_api_key else None
        if key is None and not settings.ai_openai_base_url:
            check_models(settings)
        openai_provider = OpenAIProvider(base_url=settings.ai_openai_base_url, api_key=key or "not-needed")
        return OpenAIChatModel(name, provider=openai_provider)
    from pydantic_ai.exceptions import UserError
    from pydantic_ai.models import infer_model

    try:
        return infer_model(model_id)
    except UserError as exc:
        raise ImproperlyConfigured(f"cannot use the AI model {model_id!r}: {exc}") from None
