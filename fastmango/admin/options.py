"""``ModelAdmin``: how the admin shows one resource (columns, filters, search, form layout, inlines, actions).

Every read and write goes through the wrapped :class:`~fastmango.api.resource.ModelResource`: its rows for the
caller, its permission decision and its history. The options are checked when declared (names of fields that do
not exist are :class:`~fastmango.core.errors.ImproperlyConfigured`, naming the close match); what depends on
other registrations (autocomplete targets) is checked when the app starts (:meth:`AdminSite.check`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastmango.admin.actions import DELETE, AdminAction, action
from fastmango.admin.fields import FieldInfo, model_fields
from fastmango.api.caller import Caller
from fastmango.api.filters import FilterSpec
from fastmango.api.resource import ModelResource, resource_of
from fastmango.core.errors import ImproperlyConfigured
from fastmango.db.compiler import model_info

if TYPE_CHECKING:
    from fastmango.admin.site import AdminSite

#: The options ``register()`` and a ModelAdmin subclass take.
OPTIONS = (
    "list_display",
    "list_filter",
    "search_fields",
    "ordering",
    "readonly_fields",
    "fieldsets",
    "inlines",
    "actions",
    "autocomplete_fields",
    "date_hierarchy",
    "label",
    "label_singular",
)


def close_match(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when one of ``candidates`` is close to ``name``."""
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Inline:
    """Rows of another model edited on this model's form: ``Inline(Comment, fk="post_id")``.

    Args:
        model: The related model or its resource (writes go through it: its permissions and history).
        fk: The inline model's foreign key to this model (found when there is exactly one).
        fields: The fields shown (all but the key and ``fk`` by default).
    """

    def __init__(self, model: Any, *, fk: str | None = None, fields: Sequence[str] = ()) -> None:
        self._given: ModelResource[Any] | None = model if isinstance(model, ModelResource) else None
        self._default = self._given or resource_of(model)
        self.site: AdminSite | None = None
        self.fk = fk
        self.field_names = tuple(fields)

    @property
    def resource(self) -> ModelResource[Any]:
        """The resource the inline's rows go through: the one given, else the site's registered resource of the
        model (its scoping), else a default one."""
        if self._given is not None:
            return self._given
        registered = self.site.admin_of_model(self._default.model) if self.site is not None else None
        return registered.resource if registered is not None else self._default

    @property
    def name(self) -> str:
        return self.resource.name

    def bind(self, parent: type[Any], where: str) -> None:
        """Find (or check) ``fk`` against the parent model and the ``fields``."""
        model = self.resource.model
        fields = model_fields(model)
        pointing = [f.name for f in fields.values() if f.kind == "fk" and f.related is parent]
        if self.fk is None:
            if len(pointing) != 1:
                found = ", ".join(pointing) or "none"
                raise ImproperlyConfigured(
                    f"inlines of {where}: {model.__name__} needs fk= naming its foreign key to {parent.__name__} "
                    f"(foreign keys to it: {found})"
                )
            self.fk = pointing[0]
        elif self.fk not in pointing:
            raise ImproperlyConfigured(
                f"inlines of {where}: {model.__name__}.{self.fk} is no foreign key to {parent.__name__}"
                f"{close_match(self.fk, pointing)}"
            )
        for name in self.field_names:
            if name not in fields:
                raise ImproperlyConfigured(
                    f"inlines of {where}: {model.__name__} has no field {name!r}{close_match(name, fields)}"
                )
        pk = model_info(model).pk_name
        self.fields = {
            name: info
            for name, info in fields.items()
            if (name in self.field_names if self.field_names else name not in (pk, self.fk)) and info.kind != "m2m"
        }


class ModelAdmin:
    """The admin of one resource. Subclass it and set the options as class attributes, or pass them to
    :func:`fastmango.admin.register`.

    Attributes:
        list_display: Columns of the list (fields of the resource's read schema; its key by default).
        list_filter: Fields the list filters on, across relations too (``author__username``); a relation name
            filters on its key.
        search_fields: Fields ``?search=`` matches (the resource's by default).
        ordering: The default order (``["-created_at"]``; newest key first by default).
        readonly_fields: Fields shown but not edited.
        fieldsets: The form's sections: ``[("Content", ["title", "body"]), (None, ["published"])]``.
        inlines: Related rows edited with the row (:class:`Inline`, or a model/resource with one foreign key here).
        actions: :func:`fastmango.admin.action` functions run on selected rows (``delete`` is built in).
        autocomplete_fields: Foreign keys and many-to-many fields picked by searching the related admin.
        date_hierarchy: A date or date-time field the list can be drilled down by.
        label / label_singular: The model's names in the UI (from the model's class name by default).
    """

    list_display: Sequence[str] = ()
    list_filter: Sequence[str] = ()
    search_fields: Sequence[str] = ()
    ordering: Sequence[str] = ()
    readonly_fields: Sequence[str] = ()
    fieldsets: Sequence[Any] = ()
    inlines: Sequence[Any] = ()
    actions: Sequence[Any] = ()
    autocomplete_fields: Sequence[str] = ()
    date_hierarchy: str | None = None
    label: str | None = None
    label_singular: str | None = None

    def __init__(self, resource: Any, site: AdminSite | None = None, **options: Any) -> None:
        unknown = [name for name in options if name not in OPTIONS]
        if unknown:
            raise TypeError(
                f"unknown admin option {unknown[0]!r}{close_match(unknown[0], OPTIONS)}; options: {', '.join(OPTIONS)}"
            )
        for name, value in options.items():
            if value is not None:
                setattr(self, name, value)
        self.resource: ModelResource[Any] = resource_of(resource)
        self.site = site
        self.model = self.resource.model
        self.name = self.resource.name
        self.where = f"the admin of {self.model.__name__}"
        self.fields: dict[str, FieldInfo] = model_fields(self.model)
        self.pk = self.resource.info.pk_name
        self.label_singular = self.label_singular or _words(self.model.__name__)
        self.label = self.label or _plural(self.label_singular)
        self._check_and_build()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def __call__(self, admin_class: type[ModelAdmin]) -> type[ModelAdmin]:
        """``@admin.register(Post)`` on a subclass: register the subclass's options for the resource instead."""
        if self.site is None:
            raise TypeError("this ModelAdmin is not registered on a site")
        self.site.register(self.resource, admin_class=admin_class)
        return admin_class

    # -- checks -----------------------------------------------------------------------------------
    def _known(self, option: str, names: Iterable[str], known: Iterable[str], what: str = "field") -> None:
        known = list(known)
        for name in names:
            if name not in known:
                raise ImproperlyConfigured(
                    f"{option} of {self.where}: {self.model.__name__} has no {what} {name!r}"
                    f"{close_match(name, known)}; its {what}s are: {', '.join(sorted(known)) or 'none'}"
                )

    def _check_and_build(self) -> None:
        readable = list(self.resource.read_schema.model_fields)
        self.list_display = tuple(self.list_display) or tuple(dict.fromkeys([self.pk, *readable[:5]]))
        self._known("list_display", self.list_display, readable)
        self._known("readonly_fields", self.readonly_fields, self.fields)
        self._known("autocomplete_fields", self.autocomplete_fields, self.fields)
        for name in self.autocomplete_fields:
            if self.fields[name].kind not in ("fk", "m2m"):
                raise ImproperlyConfigured(
                    f"autocomplete_fields of {self.where}: {name!r} is neither a foreign key nor a many-to-many field"
                )
        if self.date_hierarchy is not None:
            self._known("date_hierarchy", [self.date_hierarchy], self.fields)
            if self.fields[self.date_hierarchy].kind not in ("date", "datetime"):
                raise ImproperlyConfigured(
                    f"date_hierarchy of {self.where}: {self.date_hierarchy!r} is not a date or date-time field"
                )
        self.filter_paths = {name: self._filter_path(name) for name in self.list_filter}
        self.sections = self._fieldsets()
        self.search_fields = tuple(self.search_fields) or tuple(self.resource.filters.search_fields)
        ordering = tuple(self.ordering) or (f"-{self.pk}",)
        sortable = [name for name in self.list_display if name in self.resource.info.columns]
        try:
            self.filters = FilterSpec(
                self.model,
                filter_fields=list(
                    dict.fromkeys(
                        [
                            *self.resource.filters.filter_fields,
                            *self.filter_paths.values(),
                            *([self.date_hierarchy] if self.date_hierarchy else []),
                            self.pk,
                        ]
                    )
                ),
                search_fields=self.search_fields,
                ordering_fields=list(
                    dict.fromkeys(
                        [*sortable, *(o.removeprefix("-") for o in ordering), *self.resource.filters.ordering_fields]
                    )
                ),
                default_ordering=ordering,
            )
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"{self.where}: {exc}") from None
        self.inline_admins = [self._inline(item) for item in self.inlines]
        self.admin_actions = self._actions()

    def _filter_path(self, name: str) -> str:
        """The filter a ``list_filter`` entry stands for: a field, a path, or a relation's key."""
        head = name.split("__")[0]
        info = self.resource.info
        known = [*info.columns, *info.relations]
        self._known("list_filter", [head], known)
        if name in info.relations:
            relation = info.relations[name]
            if relation.secondary is not None or relation.uselist:
                return f"{name}__{model_info(relation.mapper.class_).pk_name}"
            column = next(iter(relation.local_columns))
            return str(info.mapper.get_property_by_column(column).key)
        return name

    def _fieldsets(self) -> list[dict[str, Any]]:
        if not self.fieldsets:
            return [{"title": None, "fields": [name for name in self.fields if name != self.pk]}]
        sections = []
        for item in self.fieldsets:
            if isinstance(item, Mapping):
                title, names = item.get("title"), item.get("fields", ())
            else:
                title, names = item
            self._known("fieldsets", names, self.fields)
            sections.append({"title": title, "fields": list(names)})
        return sections

    def _inline(self, item: Any) -> Inline:
        inline = item if isinstance(item, Inline) else Inline(item)
        inline.site = self.site
        inline.bind(self.model, self.where)
        return inline

    def _actions(self) -> dict[str, AdminAction]:
        found: dict[str, AdminAction] = {"delete": DELETE}
        for item in self.actions:
            declared = item if isinstance(item, AdminAction) else action(item)
            if declared.name in found:
                raise ImproperlyConfigured(f"actions of {self.where}: two actions are named {declared.name!r}")
            found[declared.name] = declared
        return found

    # -- what a user sees -------------------------------------------------------------------------
    async def permissions(self, caller: Caller) -> dict[str, bool]:
        """What ``caller`` may do with the rows (the resource's policy decides)."""
        allowed = self.resource.allowed
        return {
            "view": await allowed(caller, "list"),
            "add": await allowed(caller, "create"),
            "change": await allowed(caller, "update"),
            "delete": await allowed(caller, "delete"),
        }

    def related_name(self, model: type[Any] | None) -> str | None:
        """The admin name of a related model: its registered admin's, else its table's."""
        if model is None:
            return None
        registered = self.site.admin_of_model(model) if self.site is not None else None
        return registered.name if registered is not None else str(model.__tablename__)

    def describe_field(self, info: FieldInfo) -> dict[str, Any]:
        """One field as the site schema describes it."""
        return {
            "name": info.name,
            "label": info.label,
            "type": info.kind,
            "required": info.required and not info.server_set,
            "readonly": info.server_set or info.name in self.readonly_fields or info.name == self.pk,
            "nullable": info.nullable,
            "choices": [{"value": v, "label": label} for v, label in info.choices] if info.choices else None,
            "related": self.related_name(info.related),
            "max_length": info.max_length,
            "help": info.help,
            "autocomplete": info.name in self.autocomplete_fields,
        }

    async def describe(self, caller: Caller) -> dict[str, Any] | None:
        """The model as the site schema shows it to ``caller``; None when they may not view it."""
        permissions = await self.permissions(caller)
        if not permissions["view"]:
            return None
        actions = [a.describe() for a in self.admin_actions.values() if await a.allowed(caller, self.resource)]
        return {
            "name": self.name,
            "label": self.label,
            "label_singular": self.label_singular,
            "pk": self.pk,
            "permissions": permissions,
            "list_display": list(self.list_display),
            "list_filter": list(self.list_filter),
            "search": bool(self.search_fields),
            "ordering": list(self.filters.default_ordering),
            "sortable": list(self.filters.ordering_fields),
            "date_hierarchy": self.date_hierarchy,
            "fields": [self.describe_field(info) for info in self.fields.values()],
            "fieldsets": self.sections,
            "inlines": [
                {
                    "name": inline.name,
                    "fk": inline.fk,
                    "label": _plural(_words(inline.resource.model.__name__)),
                    "pk": inline.resource.info.pk_name,
                    "fields": [self.describe_field(info) for info in inline.fields.values()],
                }
                for inline in self.inline_admins
            ],
            "actions": actions,
        }


def _words(name: str) -> str:
    """``BlogPost`` -> ``Blog post``."""
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
    return words[:1].upper() + words[1:]


def _plural(words: str) -> str:
    if words.endswith("y") and not words.endswith(("ay", "ey", "oy", "uy")):
        return words[:-1] + "ies"
    return words + ("es" if words.endswith(("s", "x", "ch", "sh")) else "s")
