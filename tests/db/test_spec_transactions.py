"""Spec tests for autocommit, ``transaction()`` (commit, rollback, savepoints) and IntegrityError translation."""

from __future__ import annotations

import pytest

from fastmango.db import IntegrityError, transaction
from tests.db.models import Author, Book, BookTag


class Boom(Exception):
    pass


async def names() -> list[str]:
    return sorted(await Author.objects.values_list("name", flat=True))


# -- autocommit and transaction() ---------------------------------------------------------------------------------


async def test_writes_outside_a_transaction_are_committed_per_call(db):
    with pytest.raises(Boom):
        await Author.objects.create(name="Ann")
        raise Boom

    assert await names() == ["Ann"]


async def test_transaction_commits_on_success(db):
    async with transaction():
        await Author.objects.create(name="Ann")
        await Author.objects.create(name="Bob")

    assert await names() == ["Ann", "Bob"]


async def test_transaction_rolls_back_on_exception(db):
    await Author.objects.create(name="Before")

    with pytest.raises(Boom):
        async with transaction():
            await Author.objects.create(name="Ann")
            await Author.objects.filter(name="Before").update(name="Changed")
            raise Boom

    assert await names() == ["Before"]


async def test_transaction_rolls_back_deletes_and_saves(db):
    ann = await Author.objects.create(name="Ann")
    bob = await Author.objects.create(name="Bob")

    with pytest.raises(Boom):
        async with transaction():
            await bob.delete()
            ann.name = "Anne"
            await ann.save()
            raise Boom

    assert await names() == ["Ann", "Bob"]


async def test_transaction_rolls_back_bulk_create(db):
    ann = await Author.objects.create(name="Ann")

    with pytest.raises(Boom):
        async with transaction():
            await Book.objects.bulk_create([Book(title=f"t{i}", author_id=ann.id) for i in range(3)])
            assert await Book.objects.count() == 3
            raise Boom

    assert await Book.objects.count() == 0


async def test_reads_inside_a_transaction_see_its_own_writes(db):
    async with transaction():
        ann = await Author.objects.create(name="Ann")
        await Book.objects.create(title="t", author_id=ann.id)

        assert await Author.objects.count() == 1
        assert (await Author.objects.get(name="Ann")).pk == ann.pk
        assert await Book.objects.filter(author__name="Ann").exists() is True
        assert await Author.objects.filter(name="Ann").update(name="Anne") == 1
        assert await Author.objects.values_list("name", flat=True) == ["Anne"]

    assert await names() == ["Anne"]


async def test_nested_transaction_failure_caught_outside_rolls_back_only_the_inner_block(db):
    async with transaction():
        await Author.objects.create(name="Outer before")
        try:
            async with transaction():
                await Author.objects.create(name="Inner")
                raise Boom
        except Boom:
            pass
        await Author.objects.create(name="Outer after")

    assert await names() == ["Outer after", "Outer before"]


async def test_nested_transaction_success_is_rolled_back_with_the_outer_block(db):
    with pytest.raises(Boom):
        async with transaction():
            await Author.objects.create(name="Outer")
            async with transaction():
                await Author.objects.create(name="Inner")
            raise Boom

    assert await names() == []


async def test_outer_rollback_undoes_a_nested_block_that_ran_first(db):
    with pytest.raises(Boom):
        async with transaction():
            async with transaction():
                await Author.objects.create(name="Inner")
            await Author.objects.create(name="Outer")
            raise Boom

    assert await names() == []


async def test_outer_rollback_undoes_get_or_create(db):
    with pytest.raises(Boom):
        async with transaction():
            _, created = await Author.objects.get_or_create(name="Ann")
            assert created is True
            raise Boom

    assert await names() == []


async def test_nested_transaction_success_commits_with_the_outer_block(db):
    async with transaction():
        await Author.objects.create(name="Outer")
        async with transaction():
            await Author.objects.create(name="Inner")

    assert await names() == ["Inner", "Outer"]


async def test_inner_rollback_does_not_hide_earlier_inner_work(db):
    async with transaction():
        async with transaction():
            await Author.objects.create(name="First inner")
        with pytest.raises(Boom):
            async with transaction():
                await Author.objects.create(name="Second inner")
                raise Boom
        assert await names() == ["First inner"]

    assert await names() == ["First inner"]


async def test_integrity_error_in_savepoint_caught_outside_keeps_outer_work(db):
    await Author.objects.create(name="Taken", email="taken@example.com")

    async with transaction():
        await Author.objects.create(name="Ann")
        with pytest.raises(IntegrityError):
            async with transaction():
                await Author.objects.create(name="Dup", email="taken@example.com")
        await Author.objects.create(name="Bob")

    assert await names() == ["Ann", "Bob", "Taken"]


async def test_integrity_error_inside_transaction_rolls_back_the_block(db):
    await Author.objects.create(name="Taken", email="taken@example.com")

    with pytest.raises(IntegrityError):
        async with transaction():
            await Author.objects.create(name="Ann")
            await Author.objects.create(name="Dup", email="taken@example.com")

    assert await names() == ["Taken"]


async def test_get_or_create_inside_a_transaction(db):
    async with transaction():
        first, created = await Author.objects.get_or_create(name="Ann")
        again, created_again = await Author.objects.get_or_create(name="Ann")

    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert await names() == ["Ann"]


# -- IntegrityError --------------------------------------------------------------------------------------------------


async def test_unique_violation_is_integrity_error_of_kind_unique(db):
    await Author.objects.create(name="Ann", email="ann@example.com")

    with pytest.raises(IntegrityError) as error:
        await Author.objects.create(name="Other", email="ann@example.com")

    assert error.value.kind == "unique"
    assert "email" in (error.value.constraint or "")


async def test_named_unique_constraint_is_reported(db):
    ann = await Author.objects.create(name="Ann")
    await Book.objects.create(title="Dune", author_id=ann.id)

    with pytest.raises(IntegrityError) as error:
        await Book.objects.create(title="Dune", author_id=ann.id)

    assert error.value.kind == "unique"
    assert error.value.constraint == "uq_book_author_title"  # SQLite names only the columns: found in the models
    assert error.value.columns == ("author_id", "title")


async def test_foreign_key_to_missing_row_is_integrity_error_of_kind_foreign_key(db):
    with pytest.raises(IntegrityError) as error:
        await Book.objects.create(title="Orphan", author_id=999_999)

    assert error.value.kind == "foreign_key"
    # SQLite names no foreign key: the table and column come from the models and the statement.
    assert error.value.constraint == ("book_author_id_fkey" if db.dialect == "postgresql" else "book.author_id")
    assert (error.value.table, error.value.columns) == ("book", ("author_id",))
    assert await Book.objects.count() == 0


async def test_foreign_key_failure_names_each_foreign_key_the_write_may_have_broken(db):
    with pytest.raises(IntegrityError) as error:
        await BookTag.objects.create(book_id=999_999, tag_id=999_999)

    assert error.value.kind == "foreign_key"
    if db.dialect == "postgresql":  # PostgreSQL names the one it checked first
        assert error.value.constraint in ("booktag_book_id_fkey", "booktag_tag_id_fkey")
    else:  # SQLite does not say which: both are named, and nothing is guessed
        assert error.value.constraint == "booktag.book_id | booktag.tag_id"
        message = str(error.value)
        assert "one of: foreign key booktag.book_id -> book.id; foreign key booktag.tag_id -> tag.id." in message


async def test_not_null_violation_is_integrity_error_of_kind_not_null(db):
    ann = await Author.objects.create(name="Ann")

    with pytest.raises(IntegrityError) as error:
        await Book.objects.create(title=None, author_id=ann.id)

    assert error.value.kind == "not_null"
    assert "title" in (error.value.constraint or "")


async def test_deleting_a_referenced_row_is_integrity_error_of_kind_foreign_key(db):
    ann = await Author.objects.create(name="Ann")
    await Book.objects.create(title="t", author_id=ann.id)

    with pytest.raises(IntegrityError) as error:
        await ann.delete()

    assert error.value.kind == "foreign_key"
    assert await Author.objects.count() == 1


async def test_queryset_delete_of_referenced_rows_is_integrity_error(db):
    ann = await Author.objects.create(name="Ann")
    await Book.objects.create(title="t", author_id=ann.id)

    with pytest.raises(IntegrityError) as error:
        await Author.objects.all().delete()

    assert error.value.kind == "foreign_key"


async def test_save_violating_unique_is_integrity_error(db):
    await Author.objects.create(name="Ann", email="ann@example.com")
    bob = await Author.objects.create(name="Bob")

    bob.email = "ann@example.com"
    with pytest.raises(IntegrityError) as error:
        await bob.save()

    assert error.value.kind == "unique"


async def test_update_violating_unique_is_integrity_error(db):
    await Author.objects.create(name="Ann", email="ann@example.com")
    await Author.objects.create(name="Bob", email="bob@example.com")

    with pytest.raises(IntegrityError) as error:
        await Author.objects.filter(name="Bob").update(email="ann@example.com")

    assert error.value.kind == "unique"


async def test_bulk_create_violating_unique_is_integrity_error(db):
    ann = await Author.objects.create(name="Ann")

    with pytest.raises(IntegrityError) as error:
        await Book.objects.bulk_create([Book(title="same", author_id=ann.id), Book(title="same", author_id=ann.id)])

    assert error.value.kind == "unique"


async def test_integrity_error_is_not_sqlalchemys(db):
    import sqlalchemy.exc

    await Author.objects.create(name="Ann", email="ann@example.com")

    with pytest.raises(IntegrityError) as error:
        await Author.objects.create(name="Other", email="ann@example.com")

    assert not isinstance(error.value, sqlalchemy.exc.SQLAlchemyError)


async def test_database_is_usable_after_an_integrity_error(db):
    await Author.objects.create(name="Ann", email="ann@example.com")
    with pytest.raises(IntegrityError):
        await Author.objects.create(name="Other", email="ann@example.com")

    await Author.objects.create(name="Bob")

    assert await names() == ["Ann", "Bob"]
