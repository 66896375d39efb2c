"""``ModelAdmin``: how the admin shows one resource (columns, filters, search, form layout, inlines, actions).

Every read and write goes through the wrapped :class:`~fastmango.api.resource.ModelResource`: its rows for the
caller, its permission decision and its history. The options are checked when declared (names of fields that do
not exist are a :class:`~fastmango.core.declarations.DeclarationError`, an ``ImproperlyConfigured`` naming the
close match); what depends on other registrations (autocomplete targets) is checked when the app starts
(:meth:`AdminSite.check`). ``fastmango check`` reports each as a finding: an unknown field (fastmango.E501), an
unknown option (E502), an autocomplete target without a searchable admin (E503), a field of the wrong kind (E504).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastmango.admin.actions import DELETE, AdminAction, action
from fastmango.admin.fields import FieldInfo, model_fields
from fastmango.api.caller import Caller
from fastmango.api.filters import FilterSpec, check_fields
from fastmango.api.resource import ModelResource, resource_of
from fastmango.core.declarations import DeclarationError, did_you_mean, report, use_instead
from fastmango.core.declarations import close_match as nearest
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


#: The ``fastmango check`` ids of the admin's declaration errors.
UNKNOWN_FIELD = "fastmango.E501"
UNKNOWN_OPTION = "fastmango.E502"
UNSEARCHABLE_TARGET = "fastmango.E503"
WRONG_KIND = "fastmango.E504"


def close_match(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when one of ``candidates`` is close to ``name``."""
    return did_you_mean(name, candidates)


class UnknownOption(DeclarationError, TypeError):
    """An admin option that does not exist (a ``TypeError``, as an unknown keyword argument is)."""


def _wrong_kind(message: str, hint: str, where: str) -> None:
    report(DeclarationError(message, id=WRONG_KIND, hint=hint, obj=where))


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

    def bind(self, parent: type[Any], where: str) -> bool:
        """Find (or check) ``fk`` against the parent model and the ``fields``; whether the inline can be shown.

        Raises:
            DeclarationError: no foreign key to the parent is found, ``fk`` is none, or a field is unknown (while
                ``fastmango check`` collects the errors: False, or the field left out).
        """
        model = self.resource.model
        fields = model_fields(model)
        pointing = [f.name for f in fields.values() if f.kind == "fk" and f.related is parent]
        if self.fk is None:
            if len(pointing) != 1:
                found = ", ".join(pointing) or "none"
                _wrong_kind(
                    f"inlines of {where}: {model.__name__} needs fk= naming its foreign key to {parent.__name__} "
                    f"(foreign keys to it: {found})",
                    f"give Inline({model.__name__}, fk=...) one of: {found}",
                    where,
                )
                return False
            self.fk = pointing[0]
        elif self.fk not in pointing:
            report(
                DeclarationError(
                    f"inlines of {where}: {model.__name__}.{self.fk} is no foreign key to {parent.__name__}"
                    f"{close_match(self.fk, pointing)}; its foreign keys to it: {', '.join(pointing) or 'none'}",
                    id=UNKNOWN_FIELD,
                    hint=use_instead(self.fk, pointing, f"foreign key of {model.__name__} to {parent.__name__}"),
                    obj=where,
                )
            )
            return False
        for name in self.field_names:
            if name not in fields:
                report(
                    DeclarationError(
                        f"inlines of {where}: {model.__name__} has no field {name!r}{close_match(name, fields)}; "
                        f"its fields are: {', '.join(sorted(fields))}",
                        id=UNKNOWN_FIELD,
                        hint=use_instead(name, fields, f"field of {model.__name__}"),
                        obj=where,
                    )
                )
        self.field_names = tuple(name for name in self.field_names if name in fields)
        pk = model_info(model).pk_name
        self.fields = {
            name: info
            for name, info in fields.items()
            if (name in self.field_names if self.field_names else name not in (pk, self.fk)) and info.kind != "m2m"
        }
        return True


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass attribute that is nearly an option (``list_dispaly``) would be ignored: refuse it."""
        super().__init_subclass__(**kwargs)
        for name, value in vars(cls).items():
            if name.startswith("_") or name in OPTIONS or callable(value) or isinstance(value, property):
                continue
            # A stricter cutoff than for keywords, which must be options: a subclass may hold attributes of its own.
            if nearest(name, OPTIONS, cutoff=0.8) is not None:
                _unknown_option(name, cls.__name__)

    def __init__(self, resource: Any, site: AdminSite | None = None, **options: Any) -> None:
        self.resource: ModelResource[Any] = resource_of(resource)
        self.site = site
        self.model = self.resource.model
        self.name = self.resource.name
        self.where = f"the admin of {self.model.__name__}"
        for name, value in options.items():
            if name not in OPTIONS:
                _unknown_option(name, self.where)
            elif value is not None:
                setattr(self, name, value)
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
    def _known(self, option: str, names: Iterable[str], known: Iterable[str], what: str = "field") -> tuple[str, ...]:
        """The ``names`` among ``known``; each other one is a declaration error naming the close match."""
        known = list(known)
        valid = []
        for name in names:
            if name in known:
                valid.append(name)
                continue
            report(
                DeclarationError(
                    f"{option} of {self.where}: {self.model.__name__} has no {what} {name!r}"
                    f"{close_match(name, known)}; its {what}s are: {', '.join(sorted(known)) or 'none'}",
                    id=UNKNOWN_FIELD,
                    hint=use_instead(name, known, f"{what} of {self.model.__name__}"),
                    obj=self.where,
                )
            )
        return tuple(valid)

    def _check_and_build(self) -> None:
        readable = list(self.resource.read_schema.model_fields)
        self.list_display = tuple(self.list_display) or tuple(dict.fromkeys([self.pk, *readable[:5]]))
        self.list_display = self._known("list_display", self.list_display, readable)
        self.readonly_fields = self._known("readonly_fields", self.readonly_fields, self.fields)
        self.autocomplete_fields = self._autocomplete_fields()
        self.date_hierarchy = self._date_hierarchy()
        self.filter_paths = {name: path for name in self.list_filter if (path := self._filter_path(name)) is not None}
        self.list_filter = tuple(self.filter_paths)
        self.sections = self._fieldsets()
        search = check_fields(self.model, self.search_fields, "search_fields", where=self.where, check_id=UNKNOWN_FIELD)
        self.search_fields = tuple(search) or tuple(self.resource.filters.search_fields)
        ordered = check_fields(
            self.model,
            [o.removeprefix("-") for o in self.ordering],
            "ordering",
            where=self.where,
            check_id=UNKNOWN_FIELD,
        )
        ordering = tuple(o for o in self.ordering if o.removeprefix("-") in ordered) or (f"-{self.pk}",)
        sortable = [name for name in self.list_display if name in self.resource.info.columns]
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
        self.inline_admins = [inline for item in self.inlines if (inline := self._inline(item)) is not None]
        self.admin_actions = self._actions()

    def _autocomplete_fields(self) -> tuple[str, ...]:
        valid = []
        for name in self._known("autocomplete_fields", self.autocomplete_fields, self.fields):
            if self.fields[name].kind in ("fk", "m2m"):
                valid.append(name)
                continue
            _wrong_kind(
                f"autocomplete_fields of {self.where}: {name!r} is neither a foreign key nor a many-to-many field",
                f"leave {name!r} out of autocomplete_fields (it lists relations picked by searching)",
                self.where,
            )
        return tuple(valid)

    def _date_hierarchy(self) -> str | None:
        if self.date_hierarchy is None or not self._known("date_hierarchy", [self.date_hierarchy], self.fields):
            return None
        if self.fields[self.date_hierarchy].kind in ("date", "datetime"):
            return self.date_hierarchy
        dates = [name for name, info in self.fields.items() if info.kind in ("date", "datetime")]
        _wrong_kind(
            f"date_hierarchy of {self.where}: {self.date_hierarchy!r} is not a date or date-time field",
            f"name a date or date-time field of {self.model.__name__} ({', '.join(dates) or 'it has none'})",
            self.where,
        )
        return None

    def _filter_path(self, name: str) -> str | None:
        """The filter a ``list_filter`` entry stands for: a field, a path, or a relation's key (None: unknown)."""
        head = name.split("__")[0]
        info = self.resource.info
        known = [*info.columns, *info.relations]
        if not self._known("list_filter", [head], known):
            return None
        if name in info.relations:
            relation = info.relations[name]
            if relation.secondary is not None or relation.uselist:
                return f"{name}__{model_info(relation.mapper.class_).pk_name}"
            column = next(iter(relation.local_columns))
            return str(info.mapper.get_property_by_column(column).key)
        found = check_fields(self.model, [name], "list_filter", where=self.where, check_id=UNKNOWN_FIELD)
        return name if found else None

    def _fieldsets(self) -> list[dict[str, Any]]:
        if not self.fieldsets:
            return [{"title": None, "fields": [name for name in self.fields if name != self.pk]}]
        sections = []
        for item in self.fieldsets:
            if isinstance(item, Mapping):
                title, names = item.get("title"), item.get("fields", ())
            else:
                title, names = item
            sections.append({"title": title, "fields": list(self._known("fieldsets", names, self.fields))})
        return sections

    def _inline(self, item: Any) -> Inline | None:
        inline = item if isinstance(item, Inline) else Inline(item)
        inline.site = self.site
        return inline if inline.bind(self.model, self.where) else None

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


def _unknown_option(name: str, where: str) -> None:
    report(
        UnknownOption(
            f"unknown admin option {name!r}{close_match(name, OPTIONS)} in {where}; options: {', '.join(OPTIONS)}",
            id=UNKNOWN_OPTION,
            hint=use_instead(name, OPTIONS, "admin option"),
            obj=where,
        )
    )


def _words(name: str) -> str:
    """``BlogPost`` -> ``Blog post``."""
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
    return words[:1].upper() + words[1:]


def _plural(words: str) -> str:
    if words.endswith("y") and not words.endswith(("ay", "ey", "oy", "uy")):
        return words[:-1] + "ies"
    return words + ("es" if words.endswith(("s", "x", "ch", "sh")) else "s")
