"""``AdminSite``: the registered model admins, by name; ``register()`` fills the default ``site``.

from fastmango import admin
from blog.api import post_resource

admin.register(post_resource, list_display=["id", "title", "published"], list_filter=["published"])

@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastmango.admin.options import UNSEARCHABLE_TARGET, ModelAdmin, close_match
from fastmango.api.resource import ModelResource
from fastmango.core.declarations import DeclarationError, report
from fastmango.core.errors import ProblemError


class AdminSite:
    """The model admins a staff user finds under ``/admin``, by resource name."""

    def __init__(self, assistant_model: Any = None) -> None:
        self._admins: dict[str, ModelAdmin] = {}
        #: A Pydantic AI model the assistant panel runs on instead of the settings' (tests script it with a
        #: ``FunctionModel``); None: ``settings.admin_assistant_model`` decides.
        self.assistant_model = assistant_model
        self._assistant: Any = None  # (key, AgentSpec) of fastmango.admin.assistant, built on first use

    def __iter__(self) -> Iterator[ModelAdmin]:
        return iter(self._admins.values())

    def __contains__(self, name: object) -> bool:
        return name in self._admins

    def __len__(self) -> int:
        return len(self._admins)

    def register(
        self, resource_or_model: Any, admin_class: type[ModelAdmin] = ModelAdmin, **options: Any
    ) -> ModelAdmin:
        """Register a resource (or a model, which gets a default resource: model permissions) with these options.

        A second registration of the same name replaces the first (a project's ``admin.py`` may re-register a
        built-in such as users). The returned admin also decorates a :class:`ModelAdmin` subclass, which then
        replaces it: ``@admin.register(Post)`` above ``class PostAdmin(admin.ModelAdmin)``.

        Raises:
            DeclarationError: an option names a field the model does not have (with the close match), or is no
                option (then also a ``TypeError``).
        """
        resource = resource_or_model
        if not isinstance(resource, ModelResource):
            existing = self.admin_of_model(resource_or_model)
            resource = existing.resource if existing is not None else ModelResource(resource_or_model)
        model_admin = admin_class(resource, self, **options)
        self._admins[model_admin.name] = model_admin
        from fastmango.admin.action_tools import action_tool

        for admin_action in model_admin.admin_actions.values():
            if admin_action.tool and admin_action.name != "delete":
                action_tool(model_admin.resource, admin_action)
        return model_admin

    def unregister(self, name: str) -> None:
        """Remove the admin of ``name`` (tests; a project hiding a built-in)."""
        self._admins.pop(name, None)

    def get(self, name: str) -> ModelAdmin:
        """The admin of ``name``; a 404 problem when none is registered."""
        found = self._admins.get(name)
        if found is None:
            raise ProblemError(404, f"No model {name!r} in the admin{close_match(name, self._admins)}.")
        return found

    def admin_of_model(self, model: type[Any]) -> ModelAdmin | None:
        """The admin registered for ``model`` (the first, when several resources of it are)."""
        return next((admin for admin in self._admins.values() if admin.model is model), None)

    def check(self) -> None:
        """What depends on several registrations, checked when the app starts: each autocomplete field's related
        model has an admin with search fields.

        Raises:
            DeclarationError: naming the admin, the field and what to register (``fastmango check``: each one).
        """
        for model_admin in self:
            for name in model_admin.autocomplete_fields:
                related = model_admin.fields[name].related
                target = self.admin_of_model(related) if related is not None else None
                if target is None or not target.search_fields:
                    what = related.__name__ if related is not None else name
                    fix = f"admin.register({what}, search_fields=[...])"
                    report(
                        DeclarationError(
                            f"autocomplete_fields of {model_admin.where}: {name!r} searches the admin of {what}; "
                            f"register {what} with search_fields ({fix})",
                            id=UNSEARCHABLE_TARGET,
                            hint=f"register {what} with search_fields: {fix}",
                            obj=model_admin.where,
                        )
                    )


site = AdminSite()
"""The default site: what ``fastmango.admin.register`` fills and ``AdminPlugin`` serves."""


def register(resource_or_model: Any, **options: Any) -> ModelAdmin:
    """Register a resource or model on the default :data:`site` (see :meth:`AdminSite.register`).

    Args:
        resource_or_model: A :class:`~fastmango.api.resource.ModelResource` (its rows, permissions and
            history apply) or a table model.
        **options: ``list_display``, ``list_filter``, ``search_fields``, ``ordering``, ``readonly_fields``,
            ``fieldsets``, ``inlines``, ``actions``, ``autocomplete_fields``, ``date_hierarchy``, ``label``,
            ``label_singular`` (see :class:`ModelAdmin`).
    """
    return site.register(resource_or_model, **options)
