from __future__ import annotations

import pytest

from fastmango import db as fdb
from fastmango.db import IntegrityError, in_transaction, on_commit, run_on_commit, transaction
from tests.db.models import Author


async def test_on_commit_runs_after_the_outermost_commit(db: fdb.Database) -> None:
    calls: list[str] = []
    async with transaction():
        await Author.objects.create(name="a")
        on_commit(lambda: calls.append("sync"))

        async def later() -> None:
            calls.append(f"async sees {await Author.objects.count()} row(s)")

        on_commit(later)
        async with transaction():
            on_commit(lambda: calls.append("nested"))
        assert calls == []
    assert calls == ["sync", "async sees 1 row(s)", "nested"]


async def test_on_commit_callbacks_are_dropped_on_rollback(db: fdb.Database) -> None:
    calls: list[str] = []
    with pytest.raises(RuntimeError):
        async with transaction():
            on_commit(lambda: calls.append("never"))
            raise RuntimeError("abort")
    assert calls == []


async def test_on_commit_callbacks_of_a_rolled_back_savepoint_are_dropped(db: fdb.Database) -> None:
    calls: list[str] = []
    async with transaction():
        on_commit(lambda: calls.append("outer"))
        with pytest.raises(RuntimeError):
            async with transaction():
                on_commit(lambda: calls.append("inner"))
                raise RuntimeError("abort inner")
    assert calls == ["outer"]


async def test_run_on_commit_outside_a_transaction_runs_at_once(db: fdb.Database) -> None:
    calls: list[int] = []

    async def record() -> None:
        calls.append(1)

    await run_on_commit(record)
    assert calls == [1]


async def test_in_transaction_reports_the_scope(db: fdb.Database) -> None:
    assert not in_transaction()
    async with transaction():
        assert in_transaction()
    assert not in_transaction()


async def test_integrity_error_at_commit_rolls_back_the_whole_block(db: fdb.Database) -> None:
    await Author.objects.create(name="first", email="same@example.com")
    with pytest.raises(IntegrityError) as info:
        async with transaction():
            await Author.objects.create(name="second")
            await Author.objects.create(name="third", email="same@example.com")
    assert info.value.kind == "unique"
    assert sorted(await Author.objects.values_list("name", flat=True)) == ["first"]
