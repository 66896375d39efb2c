"""Writes are never half-done or lost, and reads inside a transaction see its writes."""

from __future__ import annotations

import asyncio

import pytest

from fastmango import db as fdb
from fastmango.db import FieldError, IntegrityError, in_transaction, transaction
from fastmango.db.errors import TransactionError
from tests.db.models import Author, Book, Publisher


async def test_saving_an_object_with_related_objects_is_all_or_nothing(db: fdb.Database) -> None:
    author = Author(name="half", books=[Book(title="ok"), Book(title=None)])  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        await author.save()
    assert await Author.objects.count() == 0
    assert await Book.objects.count() == 0


async def test_bulk_create_takes_keys_from_assigned_relations(db: fdb.Database) -> None:
    publisher = await Publisher.objects.create(name="Ace")
    [author] = await Author.objects.bulk_create([Author(name="bulk", publisher=publisher)])
    assert (await Author.objects.get(pk=author.pk)).publisher_id == publisher.id
    with pytest.raises(FieldError, match="save it"):
        await Author.objects.bulk_create([Author(name="x", publisher=Publisher(name="unsaved"))])


async def test_iterator_does_not_capture_the_consumers_writes(db: fdb.Database) -> None:
    author = await Author.objects.create(name="a")
    await Book.objects.bulk_create([Book(title=f"b{i}", author_id=author.id) for i in range(3)])
    async for book in Book.objects.order_by("id").iterator(chunk_size=2):
        book.pages = 99
        await book.save()
        break
    assert not in_transaction()
    assert await Book.objects.filter(pages=99).count() == 1
    await Author.objects.create(name="still works")


async def test_reads_in_a_transaction_see_its_updates_and_deletes(db: fdb.Database) -> None:
    author = await Author.objects.create(name="old")
    async with transaction():
        loaded = await Author.objects.get(pk=author.pk)
        await Author.objects.filter(pk=author.pk).update(name="new")
        assert (await Author.objects.get(pk=author.pk)).name == "new"
        assert loaded.name == "new"
        await Author.objects.filter(pk=author.pk).delete()
        assert not await Author.objects.filter(pk=author.pk).exists()


async def test_saving_a_deleted_row_says_it_no_longer_exists(db: fdb.Database) -> None:
    author = await Author.objects.create(name="gone")
    await Author.objects.filter(pk=author.pk).delete()
    author.name = "renamed"
    with pytest.raises(Author.DoesNotExist):
        await author.save()


async def test_a_task_created_inside_a_transaction_cannot_use_its_session(db: fdb.Database) -> None:
    async with transaction():
        with pytest.raises(TransactionError, match="belongs to the task"):
            await asyncio.gather(Author.objects.create(name="a"), Author.objects.create(name="b"))
    assert await Author.objects.count() == 0


async def test_an_empty_slice_does_not_exist_and_empty_exclude_keeps_everything(db: fdb.Database) -> None:
    await Author.objects.create(name="a")
    assert not await Author.objects.all()[:0].exists()
    assert await Author.objects.exclude().count() == 1
    with pytest.raises(FieldError, match="at least one aggregate"):
        await Author.objects.aggregate()
