"""Spec tests for building QuerySets: ordering, slicing, immutability, none/all, only, distinct, values, annotate."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from fastmango.db import Count, FieldNotLoaded, Q, QuerySet
from fastmango.testing import capture_queries
from tests.db.models import Author, Book, BookTag, Publisher, Tag


async def seed_pages(count: int = 10) -> Author:
    """Books "b01".."bNN" with pages 1..count, inserted in shuffled order so pk order differs from page order."""
    author = await Author.objects.create(name="Pager")
    order = sorted(range(1, count + 1), key=lambda n: (n * 7) % count)
    await Book.objects.bulk_create([Book(title=f"b{n:02d}", pages=n, author_id=author.id) for n in order])
    return author


async def seed_authors() -> dict[str, Author]:
    """Alice (3 books: 50, 150, 300 pages), Bob (1 book: 500 pages), Carol (no books); Bob is with Penguin."""
    penguin = await Publisher.objects.create(name="Penguin")
    alice = await Author.objects.create(name="Alice", email="alice@example.com")
    bob = await Author.objects.create(name="Bob", publisher_id=penguin.id)
    carol = await Author.objects.create(name="Carol")
    await Book.objects.bulk_create(
        [
            Book(title="Zebra", pages=300, price=Decimal("3.00"), author_id=alice.id),
            Book(title="Apple", pages=50, price=Decimal("1.00"), author_id=alice.id),
            Book(title="Mango", pages=150, price=Decimal("2.00"), author_id=alice.id),
            Book(title="Kiwi", pages=500, price=Decimal("5.00"), author_id=bob.id),
        ]
    )
    return {"alice": alice, "bob": bob, "carol": carol}


def pages(books: list[Book]) -> list[int]:
    return [book.pages for book in books]


# -- ordering ------------------------------------------------------------------------------------------------


async def test_order_by_ascending(db):
    await seed_pages(5)

    assert pages(await Book.objects.order_by("pages")) == [1, 2, 3, 4, 5]


async def test_order_by_descending(db):
    await seed_pages(5)

    assert pages(await Book.objects.order_by("-pages")) == [5, 4, 3, 2, 1]


async def test_order_by_several_fields_breaks_ties(db):
    author = await Author.objects.create(name="Ties")
    await Book.objects.bulk_create(
        [
            Book(title="b", pages=2, author_id=author.id),
            Book(title="a", pages=2, author_id=author.id),
            Book(title="c", pages=1, author_id=author.id),
        ]
    )

    books = await Book.objects.order_by("-pages", "title")

    assert [b.title for b in books] == ["a", "b", "c"]


async def test_order_by_across_relation(db):
    await seed_authors()

    books = await Book.objects.order_by("-author__name", "title")

    assert [b.title for b in books] == ["Kiwi", "Apple", "Mango", "Zebra"]


async def test_order_by_across_relation_in_values(db):
    await seed_authors()

    titles = await Book.objects.order_by("-author__name", "-title").values_list("title", flat=True)

    assert titles == ["Kiwi", "Zebra", "Mango", "Apple"]


async def test_order_by_across_two_relations(db):
    await seed_authors()
    zed = await Publisher.objects.create(name="Zed Press")
    dan = await Author.objects.create(name="Dan", publisher_id=zed.id)
    await Book.objects.create(title="Fig", author_id=dan.id)

    books = await Book.objects.filter(author__publisher__isnull=False).order_by("-author__publisher__name")

    assert [b.title for b in books] == ["Fig", "Kiwi"]


async def test_order_by_pk(db):
    await seed_pages(4)
    pks = sorted(book.pk for book in await Book.objects.all())

    assert [b.pk for b in await Book.objects.order_by("pk")] == pks
    assert [b.pk for b in await Book.objects.order_by("-pk")] == pks[::-1]


async def test_order_by_replaces_the_previous_ordering(db):
    await seed_pages(4)

    assert pages(await Book.objects.order_by("title").order_by("-pages")) == [4, 3, 2, 1]


async def test_order_by_annotation(db):
    await seed_authors()

    authors = await Author.objects.annotate(n_books=Count("books")).order_by("-n_books", "name")

    assert [(a.name, a.n_books) for a in authors] == [("Alice", 3), ("Bob", 1), ("Carol", 0)]


# -- slicing -------------------------------------------------------------------------------------------------


async def test_slice_is_limit_and_offset(db):
    await seed_pages(10)

    with capture_queries() as queries:
        books = await Book.objects.order_by("pages")[2:5]

    assert pages(books) == [3, 4, 5]
    assert len(queries) == 1
    assert "LIMIT" in queries[0].upper()
    assert "OFFSET" in queries[0].upper()


async def test_slice_with_only_stop(db):
    await seed_pages(10)

    assert pages(await Book.objects.order_by("pages")[:3]) == [1, 2, 3]


async def test_slice_with_only_start(db):
    await seed_pages(10)

    assert pages(await Book.objects.order_by("pages")[7:]) == [8, 9, 10]


async def test_slice_past_the_end_returns_the_rows_there_are(db):
    await seed_pages(10)

    assert pages(await Book.objects.order_by("pages")[8:20]) == [9, 10]
    assert await Book.objects.order_by("pages")[20:30] == []


async def test_slicing_a_sliced_queryset_slices_within_it(db):
    await seed_pages(10)
    window = Book.objects.order_by("pages")[2:8]  # pages 3..8

    assert pages(await window[1:3]) == [4, 5]
    assert pages(await window[4:]) == [7, 8]
    assert pages(await window[:2]) == [3, 4]
    assert pages(await window[5:10]) == [8]
    assert await window[6:9] == []


async def test_index_returns_one_instance(db):
    await seed_pages(10)

    book = await Book.objects.order_by("pages")[0]
    fifth = await Book.objects.order_by("-pages")[4]

    assert isinstance(book, Book)
    assert book.pages == 1
    assert fifth.pages == 6


async def test_index_of_a_sliced_queryset_is_relative_to_the_slice(db):
    await seed_pages(10)

    assert (await Book.objects.order_by("pages")[3:6][1]).pages == 5


async def test_index_out_of_range_raises_index_error(db):
    await seed_pages(3)

    with pytest.raises(IndexError):
        await Book.objects.order_by("pages")[5]


async def test_index_on_empty_queryset_raises_index_error(db):
    with pytest.raises(IndexError):
        await Book.objects.all()[0]


async def test_index_past_the_end_of_a_slice_raises_index_error(db):
    await seed_pages(10)

    with pytest.raises(IndexError):
        await Book.objects.order_by("pages")[2:4][2]


async def test_count_of_a_sliced_queryset_counts_the_slice(db):
    await seed_pages(10)

    assert await Book.objects.order_by("pages")[2:5].count() == 3
    assert await Book.objects.order_by("pages")[8:20].count() == 2


# -- immutability ----------------------------------------------------------------------------------------------


async def test_chained_calls_leave_the_base_queryset_unchanged(db):
    await seed_pages(6)
    base = Book.objects.filter(pages__gt=1)

    derived = base.filter(pages__lt=5).exclude(pages=3).order_by("-pages").distinct()
    sliced = base.order_by("pages")[1:2]

    assert pages(await derived) == [4, 2]
    assert len(await sliced) == 1
    assert sorted(pages(await base)) == [2, 3, 4, 5, 6]
    assert await base.count() == 5


async def test_filter_returns_a_new_queryset(db):
    base = Book.objects.all()

    assert isinstance(base, QuerySet)
    assert base.filter(pages=1) is not base
    assert base.all() is not base
    assert base.order_by("pages") is not base


async def test_manager_calls_start_fresh_querysets(db):
    await seed_pages(4)

    await Book.objects.filter(pages=1)

    assert await Book.objects.count() == 4
    assert len(await Book.objects.all()) == 4


async def test_slicing_leaves_the_base_queryset_unsliced(db):
    await seed_pages(6)
    base = Book.objects.order_by("pages")

    _ = base[2:3]
    _ = base[1:][:1]

    assert pages(await base) == [1, 2, 3, 4, 5, 6]


async def test_annotate_leaves_the_base_queryset_without_annotation(db):
    await seed_authors()
    base = Author.objects.order_by("name")

    annotated = base.annotate(n_books=Count("books"))

    assert [a.n_books for a in await annotated] == [3, 1, 0]
    assert "n_books" not in (await base.values())[0]
    with pytest.raises(AttributeError):
        _ = (await base)[0].n_books


# -- none / all ------------------------------------------------------------------------------------------------


async def test_all_returns_every_row(db):
    await seed_pages(5)

    assert sorted(pages(await Book.objects.all())) == [1, 2, 3, 4, 5]


async def test_none_matches_nothing(db):
    await seed_pages(5)

    empty = Book.objects.none()

    assert await empty == []
    assert await empty.count() == 0
    assert await empty.exists() is False
    assert await empty.first() is None
    assert await empty.filter(pages=1) == []
    assert await empty.values("title") == []
    assert await empty.values_list("title", flat=True) == []


async def test_none_after_filter_matches_nothing(db):
    await seed_pages(5)

    assert await Book.objects.filter(pages__gt=0).none() == []
    assert await Book.objects.filter(pages__gt=0).none().update(pages=0) == 0
    assert await Book.objects.count() == 5


# -- only --------------------------------------------------------------------------------------------------------


async def test_only_loads_named_columns_and_pk(db):
    await seed_pages(2)

    book = await Book.objects.only("title").order_by("pages").first()

    assert book is not None
    assert book.title == "b01"
    assert isinstance(book.pk, int)
    assert book.id == book.pk


async def test_reading_a_column_left_out_by_only_raises_field_not_loaded(db):
    await seed_pages(2)

    book = await Book.objects.only("title").order_by("pages").first()

    with pytest.raises(FieldNotLoaded):
        _ = book.pages


async def test_only_does_not_select_other_columns(db):
    await seed_pages(2)

    with capture_queries() as queries:
        await Book.objects.only("title")

    assert "pages" not in queries[0].lower()
    assert "price" not in queries[0].lower()


# -- distinct ----------------------------------------------------------------------------------------------------


async def test_distinct_removes_duplicate_values(db):
    await seed_authors()

    names = await Book.objects.values_list("author__name", flat=True).distinct()

    assert sorted(names) == ["Alice", "Bob"]


async def test_distinct_over_instances_filtered_across_many_to_many(db):
    await seed_authors()
    tag_a = await Tag.objects.create(name="a")
    tag_b = await Tag.objects.create(name="b")
    book = await Book.objects.get(title="Zebra")
    await BookTag.objects.bulk_create(
        [BookTag(book_id=book.id, tag_id=tag_a.id), BookTag(book_id=book.id, tag_id=tag_b.id)]
    )

    found = await Book.objects.filter(tags__name__in=["a", "b"]).distinct()

    assert [b.title for b in found] == ["Zebra"]
    assert await Book.objects.filter(tags__name__in=["a", "b"]).distinct().count() == 1


# -- values / values_list --------------------------------------------------------------------------------------------


async def test_values_returns_dicts_of_named_fields(db):
    await seed_authors()

    rows = await Book.objects.order_by("title").values("title", "pages")

    assert rows == [
        {"title": "Apple", "pages": 50},
        {"title": "Kiwi", "pages": 500},
        {"title": "Mango", "pages": 150},
        {"title": "Zebra", "pages": 300},
    ]


async def test_values_without_fields_returns_every_column(db):
    authors = await seed_authors()

    rows = await Author.objects.filter(name="Alice").values()

    assert rows == [
        {"id": authors["alice"].id, "name": "Alice", "email": "alice@example.com", "publisher_id": None},
    ]


async def test_values_across_relation(db):
    await seed_authors()

    rows = await Book.objects.order_by("title").values("title", "author__name")

    assert rows[:2] == [{"title": "Apple", "author__name": "Alice"}, {"title": "Kiwi", "author__name": "Bob"}]


async def test_values_across_null_relation_gives_none(db):
    await seed_authors()

    rows = await Author.objects.order_by("name").values("name", "publisher__name")

    assert rows == [
        {"name": "Alice", "publisher__name": None},
        {"name": "Bob", "publisher__name": "Penguin"},
        {"name": "Carol", "publisher__name": None},
    ]


async def test_values_respects_filters_and_slices(db):
    await seed_pages(10)

    rows = await Book.objects.filter(pages__gt=2).order_by("pages").values("pages")[1:3]

    assert rows == [{"pages": 4}, {"pages": 5}]


async def test_values_list_returns_tuples(db):
    await seed_authors()

    rows = await Book.objects.order_by("pages").values_list("title", "pages")

    assert rows == [("Apple", 50), ("Mango", 150), ("Zebra", 300), ("Kiwi", 500)]


async def test_values_list_flat_returns_single_values(db):
    await seed_authors()

    assert await Book.objects.order_by("-pages").values_list("title", flat=True) == ["Kiwi", "Zebra", "Mango", "Apple"]


async def test_values_list_flat_across_relation(db):
    await seed_authors()

    names = await Book.objects.order_by("title").values_list("author__name", flat=True)

    assert names == ["Alice", "Bob", "Alice", "Alice"]


async def test_values_includes_annotations_by_name(db):
    await seed_authors()

    rows = await Author.objects.annotate(n_books=Count("books")).order_by("name").values("name", "n_books")

    assert rows == [{"name": "Alice", "n_books": 3}, {"name": "Bob", "n_books": 1}, {"name": "Carol", "n_books": 0}]


async def test_values_list_includes_annotations(db):
    await seed_authors()

    rows = await Author.objects.annotate(n_books=Count("books")).order_by("name").values_list("name", "n_books")

    assert rows == [("Alice", 3), ("Bob", 1), ("Carol", 0)]


# -- annotate --------------------------------------------------------------------------------------------------------


async def test_annotation_is_readable_as_attribute(db):
    await seed_authors()

    authors = {a.name: a.n_books for a in await Author.objects.annotate(n_books=Count("books"))}

    assert authors == {"Alice": 3, "Bob": 1, "Carol": 0}


async def test_filter_on_annotation(db):
    await seed_authors()

    authors = await Author.objects.annotate(n_books=Count("books")).filter(n_books__gte=1).order_by("name")

    assert [a.name for a in authors] == ["Alice", "Bob"]


async def test_count_of_queryset_filtered_on_annotation(db):
    await seed_authors()

    assert await Author.objects.annotate(n_books=Count("books")).filter(n_books=0).count() == 1


async def test_annotate_count_with_filter_counts_matching_related_rows(db):
    await seed_authors()

    queryset = Author.objects.annotate(n_long=Count("books", filter=Q(books__pages__gt=100))).order_by("name")

    assert [(a.name, a.n_long) for a in await queryset] == [("Alice", 2), ("Bob", 1), ("Carol", 0)]


async def test_annotate_with_a_filtered_queryset_counts_all_related_rows(db):
    await seed_authors()

    authors = await Author.objects.filter(name__in=["Alice", "Carol"]).annotate(n_books=Count("books")).order_by("name")

    assert [(a.name, a.n_books) for a in authors] == [("Alice", 3), ("Carol", 0)]


async def test_annotate_count_many_to_many_both_ways(db):
    await seed_authors()
    tags = [await Tag.objects.create(name=name) for name in ("x", "y")]
    apple = await Book.objects.get(title="Apple")
    kiwi = await Book.objects.get(title="Kiwi")
    await BookTag.objects.bulk_create(
        [
            BookTag(book_id=apple.id, tag_id=tags[0].id),
            BookTag(book_id=apple.id, tag_id=tags[1].id),
            BookTag(book_id=kiwi.id, tag_id=tags[0].id),
        ]
    )

    books = {b.title: b.n_tags for b in await Book.objects.annotate(n_tags=Count("tags"))}
    tag_counts = {t.name: t.n_books for t in await Tag.objects.annotate(n_books=Count("books"))}

    assert books == {"Apple": 2, "Kiwi": 1, "Mango": 0, "Zebra": 0}
    assert tag_counts == {"x": 2, "y": 1}


async def test_annotated_queryset_with_slice_and_first(db):
    await seed_authors()

    top = await Author.objects.annotate(n_books=Count("books")).order_by("-n_books").first()

    assert top is not None
    assert (top.name, top.n_books) == ("Alice", 3)


async def test_annotation_is_readable_on_get_and_slices(db):
    await seed_authors()
    annotated = Author.objects.annotate(n_books=Count("books"))

    assert (await annotated.get(name="Alice")).n_books == 3
    assert [a.n_books for a in await annotated.order_by("name")[1:3]] == [1, 0]
    assert (await annotated.order_by("name")[0]).n_books == 3


async def test_annotation_is_readable_on_instances_from_iterator(db):
    await seed_authors()

    # Read the annotation after the loop: a failure inside it would leave the iterator's transaction open.
    authors = [a async for a in Author.objects.annotate(n_books=Count("books")).iterator(chunk_size=2)]
    counts = {a.name: getattr(a, "n_books", "missing") for a in authors}

    assert counts == {"Alice": 3, "Bob": 1, "Carol": 0}


async def test_annotation_in_q_and_exclude(db):
    await seed_authors()
    annotated = Author.objects.annotate(n_books=Count("books"))

    assert {a.name for a in await annotated.filter(Q(n_books=0) | Q(name="Bob"))} == {"Bob", "Carol"}
    assert {a.name for a in await annotated.exclude(n_books=0)} == {"Alice", "Bob"}


async def test_values_without_fields_includes_annotations(db):
    await seed_authors()

    row = (await Author.objects.annotate(n_books=Count("books")).filter(name="Alice").values())[0]

    assert row["n_books"] == 3
    assert row["name"] == "Alice"


# -- custom managers -------------------------------------------------------------------------------------------------


async def test_custom_manager_applies_its_queryset(db):
    author = await Author.objects.create(name="Manager")
    await Book.objects.bulk_create(
        [
            Book(title="out", published=datetime.date(2020, 1, 1), author_id=author.id),
            Book(title="draft", published=None, author_id=author.id),
        ]
    )

    assert [b.title for b in await Book.published_books.all()] == ["out"]
    assert await Book.published_books.count() == 1
    assert await Book.published_books.filter(title="draft").exists() is False
    assert await Book.objects.count() == 2
