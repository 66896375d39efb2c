"""Registration (fastmango/admin/site.py, options.py): options checked when declared, close matches named."""

from __future__ import annotations

import pytest

from fastmango.admin import AdminSite, Inline, ModelAdmin
from fastmango.core.errors import ImproperlyConfigured
from tests.db.models import Author, Book, Tag


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "list_display",
            ["titel"],
            "list_display of the admin of Book: Book has no field 'titel' (did you mean 'title'?)",
        ),
        (
            "list_filter",
            ["autor"],
            "list_filter of the admin of Book: Book has no field 'autor' (did you mean 'author'?)",
        ),
        ("search_fields", ["titl"], "search_fields"),
        ("ordering", ["-pagez"], "'pagez'"),
        ("readonly_fields", ["prise"], "(did you mean 'price'?)"),
        ("fieldsets", [("Main", ["titles"])], "fieldsets of the admin of Book: Book has no field 'titles'"),
        ("autocomplete_fields", ["tag"], "(did you mean 'tags'?)"),
        ("date_hierarchy", "publised", "(did you mean 'published'?)"),
    ],
)
def test_a_wrong_field_name_is_refused_with_the_close_match(option: str, value: object, message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        AdminSite().register(Book, **{option: value})
    assert message in str(caught.value)


def test_an_unknown_option_is_a_type_error_with_the_close_match() -> None:
    with pytest.raises(TypeError, match="did you mean 'list_display'"):
        AdminSite().register(Book, list_displays=["title"])


def test_date_hierarchy_must_be_a_date_and_autocomplete_a_relation() -> None:
    with pytest.raises(ImproperlyConfigured, match="not a date"):
        AdminSite().register(Book, date_hierarchy="title")
    with pytest.raises(ImproperlyConfigured, match="neither a foreign key"):
        AdminSite().register(Book, autocomplete_fields=["title"])


def test_an_autocomplete_target_needs_an_admin_with_search_when_the_app_starts() -> None:
    site = AdminSite()
    site.register(Book, autocomplete_fields=["author_id"])
    with pytest.raises(ImproperlyConfigured, match=r"register Author with search_fields"):
        site.check()
    site.register(Author, search_fields=["name"])
    site.check()


def test_an_inline_finds_its_foreign_key() -> None:
    site = AdminSite()
    author = site.register(Author, inlines=[Book])
    assert author.inline_admins[0].fk == "author_id"
    with pytest.raises(ImproperlyConfigured, match="needs fk="):
        AdminSite().register(Book, inlines=[Tag])
    with pytest.raises(ImproperlyConfigured, match="is no foreign key"):
        AdminSite().register(Author, inlines=[Inline(Book, fk="title")])


def test_a_model_admin_subclass_registers_with_the_decorator() -> None:
    site = AdminSite()

    @site.register(Tag)
    class TagAdmin(ModelAdmin):
        search_fields = ["name"]
        list_display = ["id", "name"]

    assert isinstance(site.get("tag"), TagAdmin)
    assert site.get("tag").search_fields == ("name",)


def test_list_filter_on_a_relation_filters_on_its_key() -> None:
    admin = AdminSite().register(Book, list_filter=["author", "tags", "author__name"])
    assert admin.filter_paths == {"author": "author_id", "tags": "tags__id", "author__name": "author__name"}
