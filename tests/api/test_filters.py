"""Declarations of fastmango/api/filters.py fail when made: a field the model lacks is ImproperlyConfigured naming
the model, the field and the close match, never a bare KeyError at the first request."""

from __future__ import annotations

import pytest

from fastmango.api import CRUDRouter
from fastmango.api.filters import FilterSpec, check_fields, check_relations
from fastmango.core.declarations import DeclarationError, collecting
from fastmango.core.errors import ImproperlyConfigured
from tests.db.models import Book


@pytest.mark.parametrize("declaration", ["filter_fields", "search_fields", "ordering_fields", "default_ordering"])
def test_an_unknown_field_in_a_declaration_names_the_model_and_the_close_match(declaration: str) -> None:
    with pytest.raises(
        ImproperlyConfigured,
        match=rf"{declaration} of Book: 'titel': Book has no field 'titel' \(did you mean 'title'\?\); its fields are",
    ):
        FilterSpec(Book, **{declaration: ["pages", "titel"]})  # type: ignore[arg-type]


def test_a_descending_default_ordering_is_checked_without_its_sign() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"'pagse'.*did you mean 'pages'\?"):
        FilterSpec(Book, default_ordering=["-pagse"])
    assert FilterSpec(Book, default_ordering=["-pages"]).default_ordering == ("-pages",)


def test_an_unknown_relation_in_a_path_names_the_close_relation() -> None:
    with pytest.raises(
        ImproperlyConfigured,
        match=r"filter_fields of Book: 'autor__name': Book has no relation 'autor' \(did you mean 'author'\?\)",
    ):
        FilterSpec(Book, filter_fields=["autor__name"])


def test_an_unknown_field_of_a_related_model_names_that_model_and_the_close_match() -> None:
    with pytest.raises(
        ImproperlyConfigured,
        match=r"search_fields of Book: 'author__nmae': Author has no field 'nmae' \(did you mean 'name'\?\)",
    ):
        FilterSpec(Book, search_fields=["author__nmae"])


def test_a_path_two_relations_deep_is_checked_at_each_step() -> None:
    FilterSpec(Book, filter_fields=["author__publisher__name"])
    with pytest.raises(ImproperlyConfigured, match=r"Publisher has no field 'nam' \(did you mean 'name'\?\)"):
        FilterSpec(Book, filter_fields=["author__publisher__nam"])


def test_a_path_ending_at_a_relation_asks_for_one_of_its_fields() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"'author' ends at the relation 'author' of Book; name one of its"):
        FilterSpec(Book, ordering_fields=["author"])


def test_a_lookup_in_a_declaration_says_lookups_come_with_the_query() -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"'title' is a column of Book, not a relation; declare 'title' \(lookups come"
    ):
        FilterSpec(Book, filter_fields=["title__icontains"])


def test_known_fields_and_the_primary_key_are_accepted() -> None:
    spec = FilterSpec(Book, filter_fields=["title", "pk", "author__name"], ordering_fields=["pages", "author__name"])
    assert spec.filter_fields == ["author__name", "title", "pk"]
    check_fields(Book, ["id", "author_id", "author__publisher__pk"])


def test_select_related_paths_follow_to_one_relations() -> None:
    check_relations(Book, ["author", "author__publisher"])


def test_an_unknown_select_related_relation_names_the_close_match() -> None:
    with pytest.raises(
        ImproperlyConfigured,
        match=r"select_related of Book: 'autor': Book has no relation 'autor' \(did you mean 'author'\?\); "
        r"its relations are: author, tags",
    ):
        check_relations(Book, ["autor"])


def test_an_unknown_nested_select_related_relation_names_the_related_model() -> None:
    with pytest.raises(
        ImproperlyConfigured,
        match=r"'author__publsher': Author has no relation 'publsher' \(did you mean 'publisher'\?\)",
    ):
        check_relations(Book, ["author__publsher"])


def test_a_to_many_select_related_points_to_prefetch_related() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"'tags' is a to-many relation of Book; load it with prefetch_"):
        check_relations(Book, ["tags"])


def test_a_column_in_select_related_is_not_a_relation() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"'author_id' is a column of Book, not a relation"):
        check_relations(Book, ["author_id"])


def test_a_crud_router_ordering_by_a_field_its_model_lacks_fails_when_made_not_with_a_key_error() -> None:
    # The README's example once ordered by created_at on a Post without one: a bare KeyError('created_at').
    with pytest.raises(ImproperlyConfigured, match=r"ordering_fields of Book: 'created_at': Book has no field"):
        CRUDRouter(Book, prefix="/books", ordering_fields=["created_at", "title"])


def test_an_unknown_field_is_a_declaration_error_with_the_check_id_and_the_close_match_as_hint() -> None:
    with pytest.raises(DeclarationError) as caught:
        FilterSpec(Book, search_fields=["titel"])
    assert (caught.value.id, caught.value.hint, caught.value.obj) == (
        "fastmango.E201",
        "use 'title' instead of 'titel'",
        "Book",
    )
    with pytest.raises(DeclarationError) as relation:
        check_relations(Book, ["autor"])
    assert (relation.value.id, relation.value.hint) == ("fastmango.E202", "use 'author' instead of 'autor'")


def test_while_the_check_collects_every_wrong_field_is_recorded_and_the_spec_keeps_the_others() -> None:
    with collecting() as found:
        spec = FilterSpec(
            Book, filter_fields=["titel", "pages"], ordering_fields=["pagse"], default_ordering=["-pagse"]
        )
    assert [(e.id, str(e).split(":")[0]) for e in found] == [
        ("fastmango.E201", "filter_fields of Book"),
        ("fastmango.E201", "ordering_fields of Book"),
        ("fastmango.E201", "default_ordering of Book"),
    ]
    assert (spec.filter_fields, spec.ordering_fields, spec.default_ordering) == (["pages"], [], ("id",))
