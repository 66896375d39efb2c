"""Spec tests for the async terminals of QuerySet and Manager, and for instance save/delete/refresh_from_db."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from fastmango.db import (
    Avg,
    Count,
    F,
    Max,
    Min,
    MultipleObjectsReturned,
    ObjectDoesNotExist,
    Q,
    Sum,
)
from fastmango.testing import capture_queries
from tests.db.models import Author, Book


async def seed() -> Author:
    """Ann with four books: pages 100/200/300/400, prices 1.50/2.50/3.50/4.50, two published in 2020."""
    ann = await Author.objects.create(name="Ann")
    await Book.objects.bulk_create(
        [
            Book(title="one", pages=100, price=Decimal("1.50"), published=datetime.date(2020, 1, 1), author_id=ann.id),
            Book(title="two", pages=200, price=Decimal("2.50"), published=datetime.date(2020, 2, 1), author_id=ann.id),
            Book(title="three", pages=300, price=Decimal("3.50"), author_id=ann.id),
            Book(title="four", pages=400, price=Decimal("4.50"), author_id=ann.id),
        ]
    )
    return ann


# -- await / async for / iterator --------------------------------------------------------------------------------


async def test_await_queryset_returns_list_of_instances(db):
    await seed()

    books = await Book.objects.filter(pages__gte=300)

    assert isinstance(books, list)
    assert all(isinstance(b, Book) for b in books)
    assert sorted(b.title for b in books) == ["four", "three"]


async def test_async_for_iterates_rows(db):
    await seed()

    titles = [book.title async for book in Book.objects.order_by("pages")]

    assert titles == ["one", "two", "three", "four"]


async def test_iterator_streams_every_row_in_order(db):
    await seed()

    titles = [book.title async for book in Book.objects.order_by("-pages").iterator(chunk_size=3)]

    assert titles == ["four", "three", "two", "one"]


async def test_iterator_from_manager_and_filtered_queryset(db):
    await seed()

    everything = [book.pages async for book in Book.objects.iterator(chunk_size=1)]
    filtered = [book.pages async for book in Book.objects.filter(pages__lt=250).iterator(chunk_size=1)]

    assert sorted(everything) == [100, 200, 300, 400]
    assert sorted(filtered) == [100, 200]


# -- get ---------------------------------------------------------------------------------------------------------


async def test_get_returns_the_single_match(db):
    await seed()

    book = await Book.objects.get(title="two")

    assert (book.title, book.pages) == ("two", 200)


async def test_get_by_pk_and_q_and_on_filtered_queryset(db):
    await seed()
    two = await Book.objects.get(title="two")

    assert (await Book.objects.get(pk=two.pk)).title == "two"
    assert (await Book.objects.get(Q(pages=100) | Q(pages=150))).title == "one"
    assert (await Book.objects.filter(pages__gt=350).get()).title == "four"


async def test_get_without_match_raises_model_does_not_exist(db):
    await seed()

    with pytest.raises(Book.DoesNotExist):
        await Book.objects.get(title="missing")


async def test_get_with_several_matches_raises_model_multiple_objects_returned(db):
    await seed()

    with pytest.raises(Book.MultipleObjectsReturned):
        await Book.objects.get(pages__gt=100)


async def test_model_errors_subclass_the_exported_errors(db):
    assert issubclass(Book.DoesNotExist, ObjectDoesNotExist)
    assert issubclass(Book.MultipleObjectsReturned, MultipleObjectsReturned)
    assert issubclass(Author.DoesNotExist, ObjectDoesNotExist)


async def test_model_errors_differ_per_model(db):
    assert Book.DoesNotExist is not Author.DoesNotExist
    assert not issubclass(Book.DoesNotExist, Author.DoesNotExist)
    assert not issubclass(Author.DoesNotExist, Book.DoesNotExist)
    assert not issubclass(Book.MultipleObjectsReturned, Author.MultipleObjectsReturned)


async def test_other_models_does_not_exist_does_not_catch(db):
    with pytest.raises(Book.DoesNotExist):
        try:
            await Book.objects.get(title="missing")
        except Author.DoesNotExist:
            pytest.fail("Author.DoesNotExist caught a Book lookup")


async def test_does_not_exist_is_catchable_as_object_does_not_exist(db):
    with pytest.raises(ObjectDoesNotExist):
        await Author.objects.get(name="nobody")


# -- first / last ------------------------------------------------------------------------------------------------


async def test_first_and_last_are_by_pk_when_unordered(db):
    ann = await Author.objects.create(name="Ann")
    first = await Book.objects.create(title="zzz", pages=9, author_id=ann.id)
    await Book.objects.create(title="mmm", pages=5, author_id=ann.id)
    last = await Book.objects.create(title="aaa", pages=1, author_id=ann.id)

    assert (await Book.objects.first()).pk == first.pk
    assert (await Book.objects.last()).pk == last.pk


async def test_first_and_last_follow_the_ordering(db):
    await seed()

    assert (await Book.objects.order_by("title").first()).title == "four"
    assert (await Book.objects.order_by("title").last()).title == "two"
    assert (await Book.objects.order_by("-pages").first()).pages == 400
    assert (await Book.objects.order_by("-pages").last()).pages == 100


async def test_first_and_last_respect_filters(db):
    await seed()

    assert (await Book.objects.filter(pages__gt=100, pages__lt=400).order_by("pages").first()).title == "two"
    assert (await Book.objects.filter(pages__gt=100, pages__lt=400).order_by("pages").last()).title == "three"


async def test_first_and_last_of_empty_queryset_are_none(db):
    assert await Book.objects.first() is None
    assert await Book.objects.last() is None
    await seed()
    assert await Book.objects.filter(pages=0).first() is None
    assert await Book.objects.filter(pages=0).last() is None


# -- count / exists ------------------------------------------------------------------------------------------------


async def test_count_counts_matching_rows(db):
    await seed()

    assert await Book.objects.count() == 4
    assert await Book.objects.filter(published__isnull=True).count() == 2
    assert await Book.objects.filter(pages__gt=1000).count() == 0


async def test_count_is_one_count_query_that_loads_no_rows(db):
    await seed()

    with capture_queries() as queries:
        assert await Book.objects.filter(pages__gt=100).count() == 3

    assert len(queries) == 1
    assert queries[0].lstrip().lower().startswith("select count(")


async def test_exists(db):
    await seed()

    assert await Book.objects.exists() is True
    assert await Book.objects.filter(title="one").exists() is True
    assert await Book.objects.filter(title="none").exists() is False


# -- aggregate -------------------------------------------------------------------------------------------------------


async def test_aggregate_returns_dict_keyed_by_names(db):
    await seed()

    result = await Book.objects.aggregate(total=Sum("pages"), low=Min("pages"), high=Max("pages"), n=Count("id"))

    assert result == {"total": 1000, "low": 100, "high": 400, "n": 4}


async def test_aggregate_decimal_sum_and_average(db):
    await seed()

    result = await Book.objects.aggregate(total=Sum("price"), mean=Avg("price"), mean_pages=Avg("pages"))

    assert set(result) == {"total", "mean", "mean_pages"}
    assert Decimal(str(result["total"])) == Decimal("12.00")
    assert float(result["mean"]) == pytest.approx(3.0)
    assert float(result["mean_pages"]) == pytest.approx(250.0)


async def test_aggregate_over_filtered_queryset(db):
    await seed()

    result = await Book.objects.filter(published__year=2020).aggregate(total=Sum("pages"), n=Count("id"))

    assert result == {"total": 300, "n": 2}


async def test_aggregate_min_max_of_dates_and_text(db):
    await seed()

    result = await Book.objects.aggregate(first=Min("published"), last=Max("published"), top=Max("title"))

    assert result == {"first": datetime.date(2020, 1, 1), "last": datetime.date(2020, 2, 1), "top": "two"}


async def test_aggregate_on_empty_queryset_gives_zero_count_and_none_otherwise(db):
    await seed()

    result = await Book.objects.filter(pages__gt=1000).aggregate(
        n=Count("id"), total=Sum("price"), mean=Avg("pages"), low=Min("pages"), high=Max("pages")
    )

    assert result == {"n": 0, "total": None, "mean": None, "low": None, "high": None}


async def test_aggregate_on_empty_table(db):
    result = await Book.objects.aggregate(n=Count("id"), total=Sum("pages"))

    assert result == {"n": 0, "total": None}


async def test_aggregate_on_none_queryset(db):
    await seed()

    assert await Book.objects.none().aggregate(n=Count("id"), total=Sum("pages")) == {"n": 0, "total": None}


# -- create / get_or_create / update_or_create ---------------------------------------------------------------------


async def test_create_inserts_and_returns_instance_with_pk(db):
    ann = await Author.objects.create(name="Ann", email="ann@example.com")

    assert isinstance(ann, Author)
    assert isinstance(ann.pk, int)
    assert ann.pk == ann.id
    stored = await Author.objects.get(pk=ann.pk)
    assert (stored.name, stored.email) == ("Ann", "ann@example.com")


async def test_create_applies_field_defaults(db):
    ann = await Author.objects.create(name="Ann")

    book = await Book.objects.create(title="t", author_id=ann.id)
    stored = await Book.objects.get(pk=book.pk)

    assert (stored.pages, Decimal(str(stored.price)), stored.published) == (0, Decimal("0"), None)


async def test_get_or_create_returns_existing_row_without_applying_defaults(db):
    ann = await Author.objects.create(name="Ann", email="ann@example.com")

    author, created = await Author.objects.get_or_create(name="Ann", defaults={"email": "other@example.com"})

    assert created is False
    assert author.pk == ann.pk
    assert author.email == "ann@example.com"
    assert await Author.objects.count() == 1


async def test_get_or_create_creates_row_from_lookups_and_defaults(db):
    author, created = await Author.objects.get_or_create(name="Ann", defaults={"email": "ann@example.com"})

    assert created is True
    assert isinstance(author.pk, int)
    stored = await Author.objects.get(pk=author.pk)
    assert (stored.name, stored.email) == ("Ann", "ann@example.com")


async def test_get_or_create_twice_creates_once(db):
    first, created_first = await Author.objects.get_or_create(name="Ann")
    second, created_second = await Author.objects.get_or_create(name="Ann")

    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert await Author.objects.count() == 1


async def test_update_or_create_updates_existing_row(db):
    ann = await Author.objects.create(name="Ann", email="old@example.com")

    author, created = await Author.objects.update_or_create(name="Ann", defaults={"email": "new@example.com"})

    assert created is False
    assert author.pk == ann.pk
    assert author.email == "new@example.com"
    assert (await Author.objects.get(pk=ann.pk)).email == "new@example.com"
    assert await Author.objects.count() == 1


async def test_update_or_create_creates_missing_row(db):
    author, created = await Author.objects.update_or_create(name="Ann", defaults={"email": "ann@example.com"})

    assert created is True
    stored = await Author.objects.get(pk=author.pk)
    assert (stored.name, stored.email) == ("Ann", "ann@example.com")


# -- bulk_create ----------------------------------------------------------------------------------------------------


async def test_bulk_create_inserts_rows_and_sets_primary_keys(db):
    ann = await Author.objects.create(name="Ann")
    books = [Book(title=f"t{i}", pages=i, author_id=ann.id) for i in range(5)]

    returned = await Book.objects.bulk_create(books)

    assert len(returned) == 5
    assert all(isinstance(b.pk, int) for b in books)
    assert len({b.pk for b in books}) == 5
    stored = await Book.objects.in_bulk([b.pk for b in books])
    assert {pk: b.title for pk, b in stored.items()} == {b.pk: b.title for b in books}


async def test_bulk_create_of_a_thousand_rows_is_at_most_two_statements(db):
    ann = await Author.objects.create(name="Ann")
    books = [Book(title=f"t{i}", pages=i, author_id=ann.id) for i in range(1000)]

    with capture_queries() as queries:
        await Book.objects.bulk_create(books)

    assert len(queries) <= 2
    assert await Book.objects.count() == 1000
    assert len({b.pk for b in books}) == 1000
    assert None not in {b.pk for b in books}


async def test_bulk_create_sends_one_statement_per_batch(db):
    ann = await Author.objects.create(name="Ann")
    books = [Book(title=f"t{i}", pages=i, author_id=ann.id) for i in range(250)]

    with capture_queries() as queries:
        await Book.objects.bulk_create(books, batch_size=100)

    assert len([q for q in queries if q.lstrip().upper().startswith("INSERT")]) == 3
    assert await Book.objects.count() == 250
    assert None not in {b.pk for b in books}


async def test_bulk_create_of_nothing_returns_empty_list(db):
    assert await Book.objects.bulk_create([]) == []


# -- update / delete -------------------------------------------------------------------------------------------------


async def test_update_returns_rows_changed_and_writes_them(db):
    await seed()

    changed = await Book.objects.filter(pages__lte=200).update(pages=0)

    assert changed == 2
    assert sorted(await Book.objects.values_list("pages", flat=True)) == [0, 0, 300, 400]


async def test_update_with_f_expression(db):
    await seed()

    changed = await Book.objects.update(price=F("price") * 2, pages=F("pages") + 1)

    assert changed == 4
    rows = await Book.objects.order_by("pages").values_list("pages", "price")
    assert [(p, Decimal(str(price))) for p, price in rows] == [
        (101, Decimal("3.00")),
        (201, Decimal("5.00")),
        (301, Decimal("7.00")),
        (401, Decimal("9.00")),
    ]


async def test_update_with_filter_across_relation(db):
    ann = await seed()
    bob = await Author.objects.create(name="Bob")
    await Book.objects.create(title="bob's", pages=1, author_id=bob.id)

    changed = await Book.objects.filter(author__name="Ann").update(pages=7)

    assert changed == 4
    assert await Book.objects.filter(author_id=ann.id, pages=7).count() == 4
    assert (await Book.objects.get(title="bob's")).pages == 1


async def test_update_with_no_match_returns_zero(db):
    await seed()

    assert await Book.objects.filter(title="missing").update(pages=1) == 0


async def test_delete_returns_rows_deleted(db):
    await seed()

    deleted = await Book.objects.filter(pages__gt=250).delete()

    assert deleted == 2
    assert sorted(await Book.objects.values_list("title", flat=True)) == ["one", "two"]


async def test_delete_with_filter_across_relation(db):
    await seed()
    bob = await Author.objects.create(name="Bob")
    await Book.objects.create(title="bob's", author_id=bob.id)

    assert await Book.objects.filter(author__name="Bob").delete() == 1
    assert await Book.objects.count() == 4


async def test_delete_with_no_match_returns_zero(db):
    await seed()

    assert await Book.objects.filter(title="missing").delete() == 0
    assert await Book.objects.count() == 4


# -- in_bulk --------------------------------------------------------------------------------------------------------


async def test_in_bulk_maps_pk_to_instance_and_skips_missing_ids(db):
    await seed()
    one = await Book.objects.get(title="one")
    three = await Book.objects.get(title="three")

    found = await Book.objects.in_bulk([one.pk, three.pk, 999_999])

    assert set(found) == {one.pk, three.pk}
    assert found[one.pk].title == "one"
    assert isinstance(found[three.pk], Book)


async def test_in_bulk_with_empty_list_is_empty(db):
    await seed()

    assert await Book.objects.in_bulk([]) == {}


# -- instances --------------------------------------------------------------------------------------------------------


async def test_save_inserts_a_new_instance(db):
    author = Author(name="Ann")
    assert author.pk is None

    await author.save()

    assert isinstance(author.pk, int)
    assert (await Author.objects.get(pk=author.pk)).name == "Ann"


async def test_save_updates_an_existing_instance(db):
    author = await Author.objects.create(name="Ann")

    author.name = "Anne"
    await author.save()

    assert (await Author.objects.get(pk=author.pk)).name == "Anne"
    assert await Author.objects.count() == 1


async def test_save_updates_an_instance_loaded_by_a_query(db):
    await Author.objects.create(name="Ann")
    loaded = await Author.objects.get(name="Ann")

    loaded.email = "ann@example.com"
    await loaded.save()

    assert (await Author.objects.get(pk=loaded.pk)).email == "ann@example.com"
    assert await Author.objects.count() == 1


async def test_instance_delete_removes_only_that_row(db):
    ann = await Author.objects.create(name="Ann")
    bob = await Author.objects.create(name="Bob")

    await ann.delete()

    assert await Author.objects.filter(pk=ann.pk).exists() is False
    assert await Author.objects.filter(pk=bob.pk).exists() is True


async def test_refresh_from_db_reloads_changed_columns(db):
    ann = await Author.objects.create(name="Ann")
    await Author.objects.filter(pk=ann.pk).update(name="Changed", email="c@example.com")

    await ann.refresh_from_db()

    assert (ann.name, ann.email) == ("Changed", "c@example.com")


async def test_refresh_from_db_discards_unsaved_changes(db):
    ann = await Author.objects.create(name="Ann")
    ann.name = "unsaved"

    await ann.refresh_from_db()

    assert ann.name == "Ann"


async def test_refresh_from_db_of_deleted_row_raises_does_not_exist(db):
    ann = await Author.objects.create(name="Ann")
    await Author.objects.filter(pk=ann.pk).delete()

    with pytest.raises(Author.DoesNotExist):
        await ann.refresh_from_db()
