"""Registration (fastmango/admin/site.py, options.py): options checked when declared, close matches named."""

from __future__ import annotations

import pytest

from fastmango.admin import AdminSite, Inline, ModelAdmin
from fastmango.core.declarations import collecting
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


def test_a_subclass_attribute_that_is_nearly_an_option_is_refused_with_the_close_match() -> None:
    with pytest.raises(TypeError, match=r"unknown admin option 'list_dispaly' \(did you mean 'list_display'\?\)"):

        class TypoAdmin(ModelAdmin):
            list_dispaly = ["title"]

    class OwnAttributes(ModelAdmin):  # attributes of its own, not near an option, are the subclass's business
        label_map = {"a": "A"}
        page_note = "x"


def test_while_the_check_collects_every_wrong_option_of_a_registration_is_recorded() -> None:
    with collecting() as found:
        admin = AdminSite().register(
            Book,
            list_display=["id", "titel"],
            list_filter=["autor", "published"],
            search_fields=["titl"],
            ordering=["-pagez"],
            date_hierarchy="title",
            inlines=[Inline(Tag, fields=["nmae"])],
            list_displays=["x"],
        )
    assert [(e.id, str(e).split(" of ")[0]) for e in found] == [
        ("fastmango.E502", "unknown admin option 'list_displays' (did you mean 'list_display'?) in the admin"),
        ("fastmango.E501", "list_display"),
        ("fastmango.E504", "date_hierarchy"),
        ("fastmango.E501", "list_filter"),
        ("fastmango.E501", "search_fields"),
        ("fastmango.E501", "ordering"),
        ("fastmango.E504", "inlines"),
    ]
    assert found[1].hint == "use 'title' instead of 'titel'"
    assert (admin.list_display, admin.list_filter, admin.date_hierarchy, admin.inline_admins) == (
        ("id",),
        ("published",),
        None,
        [],
    )


def test_every_autocomplete_target_without_search_is_collected_when_the_app_starts() -> None:
    site = AdminSite()
    site.register(Book, autocomplete_fields=["author_id", "tags"])
    with collecting() as found:
        site.check()
    assert [(e.id, e.obj) for e in found] == [("fastmango.E503", "the admin of Book")] * 2
    assert found[0].hint == "register Author with search_fields: admin.register(Author, search_fields=[...])"
