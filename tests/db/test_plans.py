"""The execution pipeline: one plan per shape (values are parameters), a bounded cache, and the query hook."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from fastmango import db as fdb
from fastmango.db import Count, F, Q, plans
from fastmango.db.execute import configure_plan_cache, plan_cache_stats
from fastmango.db.hook import QueryEvent, echo, listening
from fastmango.db.plans import shape_of
from fastmango.testing import capture_queries
from tests.db.conftest import TABLES
from tests.db.models import Author, Book


@pytest.fixture
def fresh_cache() -> Iterator[plans.PlanCache]:
    size = plans.cache.size
    plans.cache.clear()
    yield plans.cache
    configure_plan_cache(size)


def shape(queryset: fdb.QuerySet[object]) -> object:
    return shape_of(queryset._state, queryset._result)[0]


def test_values_are_slots_but_what_changes_the_sql_stays_in_the_shape() -> None:
    assert shape(Author.objects.filter(name="a")) == shape(Author.objects.filter(name="b"))
    assert shape(Author.objects.filter(name="a")[5:15]) == shape(Author.objects.filter(name="b")[10:30])
    assert shape(Author.objects.filter(id__in=[1])) == shape(Author.objects.filter(id__in=[1, 2, 3]))
    different = [
        Author.objects.filter(email=None),
        Author.objects.filter(email="x"),
        Author.objects.filter(email__isnull=True),
        Author.objects.filter(email__isnull=False),
        Author.objects.filter(id__in=[]),
        Author.objects.filter(name=F("email")),
        Author.objects.filter(name="a")[:10],
        Author.objects.filter(name="a")[1:10],
        Author.objects.filter(name="a").values("name"),
        Author.objects.filter(name="a").values_list("name", flat=True),
        Author.objects.filter(Q(name="a") | Q(email="a")),
        Author.objects.exclude(name="a"),
    ]
    assert len({shape(queryset) for queryset in different}) == len(different)
    # A bool and an int are equal in Python but not to the database (isnull refuses 1): different shapes.
    assert shape(Author.objects.filter(id=1)) != shape(Author.objects.filter(id=True))


async def test_one_plan_serves_every_value_of_a_shape(db: fdb.Database, fresh_cache: plans.PlanCache) -> None:
    for name in ("Ann", "Bob", "Cid"):
        await Author.objects.create(name=name)
    before = plan_cache_stats()
    names = [await Author.objects.filter(name=name).values_list("name", flat=True) for name in ("Ann", "Bob", "Zed")]
    assert names == [["Ann"], ["Bob"], []]
    after = plan_cache_stats()
    assert after["misses"] - before["misses"] == 1
    assert after["hits"] - before["hits"] == 2
    assert [a.name for a in await Author.objects.filter(name__in=["Ann", "Cid"]).order_by("name")] == ["Ann", "Cid"]
    assert [a.name for a in await Author.objects.filter(name__in=["Bob"]).order_by("name")] == ["Bob"]
    assert await Author.objects.filter(name__in=[]).count() == 0
    assert await Author.objects.filter(name__icontains="b%").count() == 0  # the wildcard is escaped per run
    assert await Author.objects.filter(name__icontains="B").count() == 1


async def test_the_cache_is_bounded_and_evicts_the_least_recently_used(
    db: fdb.Database, fresh_cache: plans.PlanCache
) -> None:
    await Author.objects.create(name="Ann", email="ann@example.com")
    fresh_cache.clear()
    configure_plan_cache(2)
    assert await Author.objects.filter(name="Ann").count() == 1  # shape 1
    assert await Author.objects.filter(email="ann@example.com").count() == 1  # shape 2
    assert await Author.objects.filter(name="Ann").exists()  # shape 3 evicts shape 1, the least recently used
    stats = plan_cache_stats()
    assert stats["size"] == 2
    assert stats["evictions"] == 1
    assert await Author.objects.filter(email="ann@example.com").count() == 1  # still cached
    assert plan_cache_stats()["misses"] == stats["misses"]
    assert await Author.objects.filter(name="Ann").count() == 1  # evicted: planned again, same answer
    assert plan_cache_stats()["misses"] == stats["misses"] + 1
    configure_plan_cache(0)
    assert plan_cache_stats()["size"] == 0
    assert await Author.objects.filter(name="Ann").count() == 1


async def test_values_querysets_support_every_terminal(db: fdb.Database) -> None:
    ann = await Author.objects.create(name="Ann")
    bob = await Author.objects.create(name="Bob")
    await Book.objects.create(title="one", pages=10, price=Decimal("1.00"), author_id=ann.id)
    values = Author.objects.values("name")
    assert await values[0] == {"name": "Ann"}
    assert await values.order_by("-name")[0] == {"name": "Bob"}
    assert await values.count() == 2
    assert await values.exists()
    assert await values.get(name="Bob") == {"name": "Bob"}
    assert await values.first() == {"name": "Ann"}
    assert await values.last() == {"name": "Bob"}
    assert [row async for row in values.order_by("name").iterator(chunk_size=1)] == [{"name": "Ann"}, {"name": "Bob"}]
    assert await values.aggregate(n=Count("id")) == {"n": 2}
    assert await Author.objects.values("id", "name").in_bulk([ann.id]) == {ann.id: {"id": ann.id, "name": "Ann"}}
    assert await Author.objects.values_list("id", flat=True).in_bulk() == {ann.id: ann.id, bob.id: bob.id}
    counted = Author.objects.annotate(n_books=Count("books")).values_list("name", "n_books").order_by("name")
    assert await counted == [("Ann", 1), ("Bob", 0)]
    joined = Book.objects.select_related("author").values("title", "author__name")
    assert await joined == [{"title": "one", "author__name": "Ann"}]
    with pytest.raises(Author.DoesNotExist):
        await values.get(name="Zed")
    assert await Author.objects.values("name").filter(name="Bob").update(name="Rob") == 1
    assert await Author.objects.values_list("name", flat=True).order_by("name") == ["Ann", "Rob"]
    assert await Author.objects.values("name").filter(name="Rob").delete() == 1
    created = await Author.objects.values("name").create(name="Cid")
    assert isinstance(created, Author)
    assert created.pk is not None


async def test_the_hook_sees_every_statement_with_its_parameters(db: fdb.Database) -> None:
    events: list[QueryEvent] = []
    with listening(events.append):
        ann = await Author.objects.create(name="Ann")
        await Author.objects.filter(name="Ann").values_list("id", flat=True)
        await Author.objects.filter(pk=ann.pk).update(name="Anne")
        await Book.objects.bulk_create([Book(title="t", pages=1, price=Decimal("1"), author_id=ann.id)])
        async with fdb.transaction():
            await Author.objects.filter(name="Anne").count()
        await ann.refresh_from_db()
        await Book.objects.filter(author=ann).delete()
    statements = [event.sql.lstrip().split(" ", 1)[0].upper() for event in events]
    assert [s for s in statements if s not in {"BEGIN", "COMMIT", "ROLLBACK"}] == [
        "INSERT",
        "SELECT",
        "UPDATE",
        "INSERT",
        "SELECT",
        "SELECT",
        "DELETE",
    ]
    select = next(event for event in events if event.sql.lstrip().upper().startswith("SELECT"))
    assert "Ann" in (list(select.params.values()) if isinstance(select.params, dict) else list(select.params))
    assert select.shape is not None
    assert select.duration >= 0
    if db.dialect == "postgresql":
        assert select.connection == "driver"
        assert select.rows == 1


def test_secret_looking_parameters_are_masked_for_logs() -> None:
    named = QueryEvent(
        "UPDATE u SET password=$1 WHERE id=$2", ("x", 7), ["fm0_password", "fm1_id"], 0, 1, None, "driver"
    )
    assert named.loggable_params() == ("***", 7)
    keyed = QueryEvent("INSERT", {"api_token": "t", "name": "n"}, None, 0, 1, None, "sqlalchemy")
    assert keyed.loggable_params() == {"api_token": "***", "name": "n"}
    many = QueryEvent("INSERT", [{"secret": "s"}, {"secret": "t"}], None, 0, 2, None, "sqlalchemy", executemany=True)
    assert many.loggable_params() == [{"secret": "***"}, {"secret": "***"}]


async def test_sql_echo_logs_statements_of_every_route_without_secrets(
    db: fdb.Database, caplog: pytest.LogCaptureFixture, quiet_sql_echo: None
) -> None:
    echo()
    with caplog.at_level(logging.INFO, logger="fastmango.db.sql"):
        await Author.objects.create(name="Ann", email="ann@example.com")
        await Author.objects.filter(email="ann@example.com").values_list("id")
    logged = [record.getMessage() for record in caplog.records if record.name == "fastmango.db.sql"]
    assert any(message.startswith("INSERT") for message in logged)
    assert any(message.startswith("SELECT") and "ann@example.com" in message for message in logged)


async def test_date_and_datetime_values_bind_through_their_column_types(db: fdb.Database) -> None:
    ann = await Author.objects.create(name="Ann")
    day = datetime.date(2020, 5, 1)
    await Book.objects.create(title="one", pages=1, price=Decimal("2.50"), published=day, author_id=ann.id)
    assert await Book.objects.filter(published=day).values_list("price", flat=True) == [Decimal("2.50")]
    assert await Book.objects.filter(published__year=2020).count() == 1
    assert await Book.objects.filter(published__range=(day, day)).count() == 1
    assert await Book.objects.filter(price__gt=Decimal("2")).count() == 1


async def test_capture_queries_records_driver_route_events(db: fdb.Database) -> None:
    await Author.objects.create(name="Ann")
    with capture_queries() as queries:
        assert await Author.objects.filter(name="Ann").values("name") == [{"name": "Ann"}]
    assert len(queries) == 1
    assert queries.events[0].rows in (1, None)


async def test_writes_whose_filter_joins_a_relation_bind_each_value_once(db: fdb.Database) -> None:
    ann = await Author.objects.create(name="same")
    await Book.objects.create(title="same", pages=1, price=Decimal("1"), author_id=ann.id)
    await Book.objects.create(title="other", pages=1, price=Decimal("1"), author_id=ann.id)
    matching = Book.objects.filter(title=F("author__name"), pages__lt=5)  # F across a relation: a joined subquery
    assert await matching.update(pages=7) == 1
    assert await Book.objects.filter(pages=7).values_list("title", flat=True) == ["same"]
    assert await Book.objects.filter(title=F("author__name"), pages=7).delete() == 1
    assert await Book.objects.count() == 1


@pytest.mark.filterwarnings("error")  # no coroutine of a connect attempted outside the greenlet, never awaited
async def test_reads_outlive_pooled_connections_the_server_closed(postgres_database: str) -> None:
    """Idle pooled connections are checked out without a greenlet; one the server closed (and the driver knows it)
    is reconnected by the pool, in the greenlet, before the read runs on it, so no read fails for it."""
    database = await fdb.connect(postgres_database)
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables[t] for t in TABLES])
        for _ in range(3):  # idle connections in the pool
            assert await Author.objects.count() >= 0
        admin = fdb.Database(postgres_database, pooled=False)  # a connection of its own, outside the pool
        async with admin.engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            )
        await admin.dispose()
        assert killed >= 1
        await asyncio.sleep(0.3)  # the event loop reads the server's goodbye: the driver knows they are closed
        for _ in range(3):
            assert await Author.objects.filter(name="nobody").values_list("name", flat=True) == []
    finally:
        await fdb.disconnect()


async def test_in_lists_run_on_the_driver_route_as_one_array_parameter(db: fdb.Database) -> None:
    ann, bob, _ = await Author.objects.bulk_create([Author(name="Ann"), Author(name="Bob"), Author(name="Cy")])
    day = datetime.date(2020, 5, 17)
    await Book.objects.create(title="t", pages=1, price=Decimal("1"), author_id=ann.id, published=day)
    with capture_queries() as queries:
        names = (
            await Author.objects.filter(name__in={"Ann", "Bob", "nobody"})
            .order_by("name")
            .values_list("name", flat=True)
        )
        others = await Author.objects.exclude(pk__in=[ann.pk, bob.pk]).values_list("name", flat=True)
        dated = await Book.objects.filter(published__in=[day, datetime.date(2021, 1, 1)]).count()
        two = await Author.objects.filter(pk__in=(ann.pk, bob.pk), name__in=["Bob"]).count()
    assert (names, others, dated, two) == (["Ann", "Bob"], ["Cy"], 1, 1)
    expected = "driver" if db.dialect == "postgresql" else "sqlalchemy"
    assert [event.connection for event in queries.events] == [expected] * 4
    if db.dialect == "postgresql":
        assert "= ANY($1)" in queries[0] and "= ANY($1)" in queries[1]
        assert "= ANY($1)" in queries[3] and "= ANY($2)" in queries[3]


def test_expanding_lists_become_numbered_array_parameters_or_are_left_to_sqlalchemy() -> None:
    from fastmango.db.execute import _as_arrays

    sql = "SELECT a FROM t WHERE a NOT IN (__[POSTCOMPILE_x]) AND b = $1::INTEGER AND c IN (__[POSTCOMPILE_z])"
    assert _as_arrays(sql, ["x", "y", "z"], {"x", "z"}) == (
        "SELECT a FROM t WHERE a <> ALL($1) AND b = $2::INTEGER AND c = ANY($3)"
    )
    assert _as_arrays("SELECT a FROM t WHERE a IN (__[POSTCOMPILE_x])", ["x", "y"], {"x"}) is None  # a name unmet
    assert _as_arrays("SELECT a FROM t WHERE a = $1", ["x"], {"x"}) is None  # an expanding name not rendered as IN


def test_query_events_are_hashable_by_identity() -> None:
    first = QueryEvent(sql="SELECT 1", params=(), names=None, duration=0.0, rows=1, shape=None, connection="driver")
    same = QueryEvent(sql="SELECT 1", params=(), names=None, duration=0.0, rows=1, shape=None, connection="driver")
    assert len({first, same, first}) == 2
