"""Many-to-many fields and related labels as one caller may see them.

A link (``Tag.books``) names rows of another model; which of them a caller may see is that model's admin
resource's decision (its permission and its scoped queryset), the same one its own screens make. A link to a row
the caller cannot see is left out of what they read and kept untouched by what they write; a target model with no
admin is a superuser's only. Labels of related rows come through the related admin's resource too (or are the
bare key).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from fastmango.api.caller import Caller
from fastmango.api.labels import label_field, object_label
from fastmango.api.links import linked, target_keys
from fastmango.core.errors import ProblemError
from fastmango.db.compiler import model_info

if TYPE_CHECKING:
    from fastmango.admin.options import ModelAdmin


def _superuser(caller: Caller) -> bool:
    return caller.user is not None and bool(caller.user.is_superuser)


def target_admin(model_admin: ModelAdmin, target: type[Any]) -> ModelAdmin | None:
    site = model_admin.site
    return site.admin_of_model(target) if site is not None else None


async def visible(model_admin: ModelAdmin, caller: Caller, target: type[Any], keys: Iterable[Any]) -> set[Any]:
    """Those of ``keys`` (rows of ``target``) the caller may see through ``target``'s admin resource."""
    wanted = [key for key in dict.fromkeys(keys) if key is not None]
    if not wanted:
        return set()
    pk = model_info(target).pk_name
    admin = target_admin(model_admin, target)
    if admin is None:
        if not _superuser(caller):
            return set()
        queryset = target.objects.all()
    else:
        if not await admin.resource.allowed(caller, "list"):
            return set()
        queryset = await admin.resource.queryset(caller)
    return set(await queryset.filter(**{f"{pk}__in": wanted}).values_list(pk, flat=True))


async def visible_links(model_admin: ModelAdmin, caller: Caller, pk: Any) -> dict[str, list[Any]]:
    """Each many-to-many field of row ``pk``: the keys of the linked rows the caller may see."""
    found: dict[str, list[Any]] = {}
    for name, info in model_admin.fields.items():
        if info.kind != "m2m" or info.related is None:
            continue
        keys = (await linked(model_admin.model, name, [pk]))[pk]
        shown = await visible(model_admin, caller, info.related, keys)
        found[name] = [key for key in keys if key in shown]
    return found


def check_keys(model_admin: ModelAdmin, name: str, value: Sequence[Any]) -> tuple[list[Any], str | None]:
    """``value`` as keys of the target of many-to-many field ``name``; an error message when one is none."""
    try:
        keys = target_keys(model_admin.model, name, value)
    except ProblemError as refused:
        return [], str(refused.extensions["errors"][0]["message"])
    return list(dict.fromkeys(keys)), None


async def merged_links(
    model_admin: ModelAdmin, caller: Caller, pk: Any, relations: dict[str, list[Any]]
) -> dict[str, list[Any]]:
    """The many-to-many sets to write: the caller's keys replace the part of each set they can see; links they
    cannot see are kept. Every key added or removed must be visible to them.

    Raises:
        ProblemError: 403 when the target has no admin and the caller is no superuser; 422 naming the field when
            a key is no row the caller can see.
    """
    final: dict[str, list[Any]] = {}
    errors = []
    for name, wanted in relations.items():
        info = model_admin.fields[name]
        assert info.related is not None
        if target_admin(model_admin, info.related) is None and not _superuser(caller):
            raise ProblemError(403, f"{info.related.__name__} is not in the admin: only a superuser may link it.")
        current = (await linked(model_admin.model, name, [pk]))[pk] if pk is not None else []
        seen = await visible(model_admin, caller, info.related, [*current, *wanted])
        missing = [key for key in wanted if key not in seen]
        if missing:
            errors.append(
                {"field": name, "message": f"No {info.related.__name__} with key {', '.join(map(str, missing))}."}
            )
            continue
        kept = [key for key in current if key not in seen]
        final[name] = [*kept, *wanted]
    if errors:
        from fastmango.admin.editing import FieldErrors

        raise FieldErrors(errors)
    return final


async def labels_of(model_admin: ModelAdmin, caller: Caller, related: type[Any], keys: Iterable[Any]) -> dict[Any, str]:
    """Labels of rows of ``related``: through its admin's resource when the caller may list it (rows they cannot
    see, and every row when they may not list it, are labelled by their key)."""
    wanted = [key for key in dict.fromkeys(keys) if key is not None]
    found = {key: str(key) for key in wanted}
    if not wanted:
        return found
    pk = model_info(related).pk_name
    admin = target_admin(model_admin, related)
    if admin is None or not await admin.resource.allowed(caller, "list"):
        return found
    shown = label_field(related)
    names = [pk, shown] if shown else [pk]
    rows = await (await admin.resource.queryset(caller)).filter(**{f"{pk}__in": wanted}).values(*names)
    found.update({row[pk]: object_label(related, row) for row in rows})
    return found
