"""Instances built from rows outside a transaction: detached, their SQLAlchemy state made only when first needed, and
then behaving exactly as an instance loaded through a session does."""

from __future__ import annotations

import copy
import pickle

import pytest
from sqlalchemy import inspect as sa_inspect

from fastmango import db as fdb
from fastmango.db import RelationNotLoaded
from fastmango.db.instances import IDENTITY, STATE
from tests.db.models import Author, Book


async def seeded() -> tuple[Author, Book]:
    author = await Author.objects.create(name="Ursula", email="u@example.com")
    book = await Book.objects.create(title="The Dispossessed", pages=387, author_id=author.id)
    return author, book


async def test_reading_loaded_columns_and_relations_makes_no_state(db: fdb.Database) -> None:
    _, book = await seeded()
    [loaded] = await Book.objects.select_related("author").filter(pk=book.id)
    assert (loaded.title, loaded.pages, loaded.author.name) == ("The Dispossessed", 387, "Ursula")
    assert loaded.model_dump()["title"] == "The Dispossessed"
    assert IDENTITY not in loaded.model_dump() and STATE not in loaded.__dict__
    assert STATE not in loaded.author.__dict__


async def test_the_state_made_on_first_use_is_a_detached_one_with_the_rows_key(db: fdb.Database) -> None:
    _, book = await seeded()
    loaded = await Book.objects.get(pk=book.id)
    state = sa_inspect(loaded)
    assert state.detached and not state.transient
    assert state.key == (Book, (book.id,), None)
    assert loaded.__dict__[STATE] is state and IDENTITY not in loaded.__dict__
    assert sa_inspect(loaded) is state  # made once


async def test_a_loaded_instance_saves_as_an_update_and_deletes(db: fdb.Database) -> None:
    _, book = await seeded()
    loaded = await Book.objects.get(pk=book.id)
    loaded.pages = 400  # the first write makes the state
    await loaded.save()
    assert (await Book.objects.get(pk=book.id)).pages == 400
    assert await Book.objects.count() == 1  # an UPDATE, not a second row
    await (await Book.objects.get(pk=book.id)).delete()
    assert await Book.objects.count() == 0


async def test_a_relation_the_query_did_not_load_still_names_the_fix(db: fdb.Database) -> None:
    _, book = await seeded()
    loaded = await Book.objects.get(pk=book.id)
    with pytest.raises(RelationNotLoaded, match=r"select_related\('author'\)"):
        _ = loaded.author


async def test_new_instances_are_transient_as_before(db: fdb.Database) -> None:
    author = Author(name="new")
    assert sa_inspect(author).transient
    await author.save()
    assert sa_inspect(author).detached and author.id is not None


async def test_copies_and_pickles_of_a_loaded_instance_keep_its_identity(db: fdb.Database) -> None:
    author, _ = await seeded()
    loaded = await Author.objects.get(pk=author.id)
    for other in (copy.copy(loaded), pickle.loads(pickle.dumps(loaded))):
        assert other.name == "Ursula"
        assert sa_inspect(other).key == (Author, (author.id,), None)
        other.name = "Le Guin"
        await other.save()
        assert (await Author.objects.get(pk=author.id)).name == "Le Guin"
        assert await Author.objects.count() == 1


async def test_two_loads_of_a_row_are_equal_and_a_changed_one_is_not(db: fdb.Database) -> None:
    author, _ = await seeded()
    first, second = await Author.objects.get(pk=author.id), await Author.objects.get(pk=author.id)
    assert first == second
    second.name = "changed"
    assert first != second


async def test_loaded_instances_join_a_transaction_as_persistent_rows(db: fdb.Database) -> None:
    author, _ = await seeded()
    loaded = await Author.objects.get(pk=author.id)
    async with fdb.transaction():
        loaded.email = "new@example.com"
        await loaded.save()
        assert sa_inspect(loaded).persistent
    assert (await Author.objects.get(pk=author.id)).email == "new@example.com"
