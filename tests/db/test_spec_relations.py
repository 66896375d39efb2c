"""Spec tests for loading relations: select_related, prefetch_related, query counts and RelationNotLoaded."""

from __future__ import annotations

import pytest

from fastmango.db import RelationNotLoaded
from fastmango.testing import capture_queries
from tests.db.models import Author, Book, BookTag, Publisher, Tag


async def seed() -> None:
    """Ace publishes Herbert (Dune, Messiah); Le Guin (Earthsea) has no publisher; Asimov has no books.

    Tags: Dune is scifi and classic, Messiah is scifi, Earthsea has none.
    """
    ace = await Publisher.objects.create(name="Ace")
    herbert = await Author.objects.create(name="Herbert", publisher_id=ace.id)
    le_guin = await Author.objects.create(name="Le Guin")
    await Author.objects.create(name="Asimov")
    dune = await Book.objects.create(title="Dune", pages=412, author_id=herbert.id)
    messiah = await Book.objects.create(title="Messiah", pages=256, author_id=herbert.id)
    await Book.objects.create(title="Earthsea", pages=183, author_id=le_guin.id)
    scifi = await Tag.objects.create(name="scifi")
    classic = await Tag.objects.create(name="classic")
    await BookTag.objects.bulk_create(
        [
            BookTag(book_id=dune.id, tag_id=scifi.id),
            BookTag(book_id=dune.id, tag_id=classic.id),
            BookTag(book_id=messiah.id, tag_id=scifi.id),
        ]
    )


def assert_names_loading(error: pytest.ExceptionInfo[RelationNotLoaded]) -> None:
    message = str(error.value)
    assert "select_related" in message or "prefetch_related" in message


# -- select_related ------------------------------------------------------------------------------------------------


async def test_select_related_loads_forward_relation_in_one_query_with_join(db):
    await seed()

    with capture_queries() as queries:
        books = await Book.objects.select_related("author").order_by("title")

    assert len(queries) == 1
    assert "JOIN" in queries[0].upper()
    assert [(b.title, b.author.name) for b in books] == [
        ("Dune", "Herbert"),
        ("Earthsea", "Le Guin"),
        ("Messiah", "Herbert"),
    ]


async def test_select_related_nested_loads_both_levels_in_one_query(db):
    await seed()

    with capture_queries() as queries:
        books = await Book.objects.select_related("author__publisher").order_by("title")

    assert len(queries) == 1
    assert [(b.author.name, b.author.publisher and b.author.publisher.name) for b in books] == [
        ("Herbert", "Ace"),
        ("Le Guin", None),
        ("Herbert", "Ace"),
    ]


async def test_select_related_of_null_relation_gives_none(db):
    await seed()

    authors = await Author.objects.select_related("publisher").order_by("name")

    assert [(a.name, a.publisher.name if a.publisher else None) for a in authors] == [
        ("Asimov", None),
        ("Herbert", "Ace"),
        ("Le Guin", None),
    ]


async def test_select_related_keeps_rows_without_related_row(db):
    await seed()

    assert await Author.objects.select_related("publisher").count() == 3
    assert len(await Author.objects.select_related("publisher")) == 3


async def test_select_related_combines_with_filter_and_order_across_the_same_relation(db):
    await seed()

    with capture_queries() as queries:
        books = (
            await Book.objects.select_related("author")
            .filter(author__name="Herbert")
            .order_by("-author__name", "title")
        )

    assert len(queries) == 1
    assert [(b.title, b.author.name) for b in books] == [("Dune", "Herbert"), ("Messiah", "Herbert")]


async def test_select_related_with_get_and_first(db):
    await seed()

    book = await Book.objects.select_related("author").get(title="Dune")
    first = await Book.objects.select_related("author").order_by("title").first()

    assert book.author.name == "Herbert"
    assert first.author.name == "Herbert"


# -- prefetch_related --------------------------------------------------------------------------------------------


async def test_prefetch_reverse_relation_is_one_extra_query(db):
    await seed()

    with capture_queries() as queries:
        authors = await Author.objects.prefetch_related("books").order_by("name")

    assert len(queries) == 2
    assert {a.name: sorted(b.title for b in a.books) for a in authors} == {
        "Asimov": [],
        "Herbert": ["Dune", "Messiah"],
        "Le Guin": ["Earthsea"],
    }


async def test_prefetch_many_to_many_is_one_extra_query(db):
    await seed()

    with capture_queries() as queries:
        books = await Book.objects.prefetch_related("tags")

    assert len(queries) == 2
    assert {b.title: sorted(t.name for t in b.tags) for b in books} == {
        "Dune": ["classic", "scifi"],
        "Messiah": ["scifi"],
        "Earthsea": [],
    }


async def test_prefetch_many_to_many_from_the_other_side(db):
    await seed()

    with capture_queries() as queries:
        tags = await Tag.objects.prefetch_related("books")

    assert len(queries) == 2
    assert {t.name: sorted(b.title for b in t.books) for t in tags} == {
        "scifi": ["Dune", "Messiah"],
        "classic": ["Dune"],
    }


async def test_prefetch_forward_relation_is_one_extra_query(db):
    await seed()

    with capture_queries() as queries:
        books = await Book.objects.prefetch_related("author")

    assert len(queries) == 2
    assert {b.title: b.author.name for b in books} == {"Dune": "Herbert", "Messiah": "Herbert", "Earthsea": "Le Guin"}


async def test_prefetch_two_relations_is_one_extra_query_each(db):
    await seed()

    with capture_queries() as queries:
        authors = await Author.objects.prefetch_related("books", "publisher").order_by("name")

    assert len(queries) == 3
    assert [(a.name, len(a.books), a.publisher.name if a.publisher else None) for a in authors] == [
        ("Asimov", 0, None),
        ("Herbert", 2, "Ace"),
        ("Le Guin", 1, None),
    ]


async def test_prefetch_nested_forward_then_reverse(db):
    await seed()

    with capture_queries() as queries:
        books = await Book.objects.prefetch_related("author__books").order_by("title")

    assert len(queries) == 3
    assert [(b.title, sorted(x.title for x in b.author.books)) for b in books] == [
        ("Dune", ["Dune", "Messiah"]),
        ("Earthsea", ["Earthsea"]),
        ("Messiah", ["Dune", "Messiah"]),
    ]


async def test_prefetch_nested_reverse_then_many_to_many(db):
    await seed()

    with capture_queries() as queries:
        authors = await Author.objects.prefetch_related("books__tags").order_by("name")

    assert len(queries) == 3
    herbert = authors[1]
    assert {b.title: sorted(t.name for t in b.tags) for b in herbert.books} == {
        "Dune": ["classic", "scifi"],
        "Messiah": ["scifi"],
    }


async def test_prefetch_nested_two_reverse_relations(db):
    await seed()

    with capture_queries() as queries:
        publishers = await Publisher.objects.prefetch_related("authors__books")

    assert len(queries) == 3
    assert [(a.name, sorted(b.title for b in a.books)) for a in publishers[0].authors] == [
        ("Herbert", ["Dune", "Messiah"])
    ]


async def test_prefetch_loads_all_related_rows_regardless_of_the_main_filter(db):
    await seed()

    authors = await Author.objects.filter(books__title="Dune").prefetch_related("books")

    assert [(a.name, sorted(b.title for b in a.books)) for a in authors] == [("Herbert", ["Dune", "Messiah"])]


async def test_select_related_and_prefetch_related_together(db):
    await seed()

    with capture_queries() as queries:
        books = await Book.objects.select_related("author").prefetch_related("tags").order_by("title")

    assert len(queries) == 2
    assert [(b.author.name, len(b.tags)) for b in books] == [("Herbert", 2), ("Le Guin", 0), ("Herbert", 1)]


async def test_select_related_on_a_copy_does_not_load_for_the_base_queryset(db):
    await seed()
    base = Book.objects.filter(title="Dune")

    loaded = (await base.select_related("author"))[0]
    prefetched = (await base.prefetch_related("tags"))[0]
    plain = (await base)[0]

    assert loaded.author.name == "Herbert"
    assert len(prefetched.tags) == 2
    with pytest.raises(RelationNotLoaded):
        _ = plain.author
    with pytest.raises(RelationNotLoaded):
        _ = plain.tags


# -- RelationNotLoaded -------------------------------------------------------------------------------------------------


async def test_unloaded_forward_relation_raises_relation_not_loaded(db):
    await seed()
    book = await Book.objects.get(title="Dune")

    with pytest.raises(RelationNotLoaded) as error:
        _ = book.author

    assert_names_loading(error)


async def test_unloaded_nullable_forward_relation_raises_relation_not_loaded(db):
    await seed()
    author = await Author.objects.get(name="Herbert")

    with pytest.raises(RelationNotLoaded) as error:
        _ = author.publisher

    assert_names_loading(error)


async def test_unloaded_reverse_relation_raises_relation_not_loaded(db):
    await seed()
    author = await Author.objects.get(name="Herbert")

    with pytest.raises(RelationNotLoaded) as error:
        _ = author.books

    assert_names_loading(error)


async def test_unloaded_many_to_many_raises_relation_not_loaded(db):
    await seed()
    book = (await Book.objects.filter(title="Dune"))[0]

    with pytest.raises(RelationNotLoaded) as error:
        _ = book.tags

    assert_names_loading(error)


async def test_unloaded_many_to_many_from_the_other_side_raises_relation_not_loaded(db):
    await seed()
    tag = await Tag.objects.order_by("name").first()

    with pytest.raises(RelationNotLoaded) as error:
        _ = tag.books

    assert_names_loading(error)


async def test_relation_of_a_select_related_object_is_not_loaded(db):
    await seed()
    book = await Book.objects.select_related("author").get(title="Dune")

    with pytest.raises(RelationNotLoaded):
        _ = book.author.books
    with pytest.raises(RelationNotLoaded):
        _ = book.author.publisher


async def test_relation_not_loaded_inside_async_iteration(db):
    await seed()

    async for book in Book.objects.all():
        with pytest.raises(RelationNotLoaded):
            _ = book.author


async def test_relation_not_loaded_on_objects_from_iterator(db):
    await seed()

    errors = []
    # Catch inside the loop (the iterator's session is still open) but assert after it, so a failure
    # cannot leave the iterator's transaction open.
    async for book in Book.objects.iterator(chunk_size=2):
        try:
            _ = book.tags
        except Exception as exc:
            errors.append(type(exc))
        else:
            errors.append(None)

    assert errors == [RelationNotLoaded] * 3


async def test_relation_not_loaded_on_created_instance_with_only_the_foreign_key(db):
    herbert = await Author.objects.create(name="Herbert")
    book = await Book.objects.create(title="Dune", author_id=herbert.id)

    with pytest.raises(RelationNotLoaded):
        _ = book.author
