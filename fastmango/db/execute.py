"""The one execution pipeline: every statement of the ORM runs here, and is reported to the query hook once.

Which connection runs a statement:

- inside ``transaction()``: its session;
- outside, a planned statement that returns rows runs on the pool's driver connection directly (asyncpg; on SQLite
  aiosqlite, reads only): the driver SQL and the type processing of its parameters and columns are worked out
  once per plan;
- otherwise an autocommit connection (SQLite's writes and ``in`` lists, model instances through an ORM session when
  the query prefetches).

Read :mod:`fastmango.db.plans` for how a query becomes a plan, and :mod:`fastmango.db.hook` for the listeners.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, delete, insert
from sqlalchemy import exc as sa_exc
from sqlalchemy import types as sqltypes
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import StaticPool

from fastmango.db import hook, plans
from fastmango.db.compiler import model_info
from fastmango.db.engine import Database, get_database
from fastmango.db.errors import DatabaseUnavailable, integrity_error_from
from fastmango.db.pg_errors import NeedsGreenlet, redact_values, unavailable_reason
from fastmango.db.plans import Plan, Result
from fastmango.db.session import _current, _state

_NO_DRIVER = object()  # a plan that must run through SQLAlchemy (a type needs its processing per row...)


def plan_cache_stats() -> dict[str, Any]:
    """Hits, misses, evictions, plans held and hit rate of the plan cache."""
    return plans.cache.stats()


def configure_plan_cache(size: int) -> None:
    """Hold at most ``size`` plans (0 turns the cache off)."""
    plans.cache.resize(size)


def plan(state: Any, result: Result, aggregates: dict[str, Any] | None = None) -> tuple[Plan, list[Any]]:
    """The (cached) plan of a query and the values of this run."""
    key, values = plans.shape_of(state, result, aggregates)
    full_key = (get_database().dialect, key)
    cached = plans.cache.get(full_key)
    if cached is None:
        cached = plans.build(state, result, values, aggregates)
        cached.key = key
        if cached.rows is not None:
            cached.rows.key = key
        plans.cache.put(full_key, cached)
    return cached, values


# -- session scope -------------------------------------------------------------------------------------------------
@asynccontextmanager
async def session_scope(*, atomic: bool = False, write: bool = False) -> AsyncIterator[AsyncSession]:
    """The session for one ORM operation.

    Inside ``transaction()`` that transaction's session (as a savepoint when ``atomic``). Outside, a short
    session: on the autocommit connection for single statements (committed when ``write``), or in its own
    transaction when ``atomic`` (several statements that must all apply). Integrity errors become fastmango's.
    """
    state = _state()
    try:
        if state is not None:
            if atomic:
                async with state.session.begin_nested():
                    yield state.session
            else:
                yield state.session
            return
        database = get_database()
        if atomic:
            async with database.sessions() as session, session.begin():
                yield session
        else:
            async with database.autocommit_sessions() as session:
                yield session
                if write:
                    await session.commit()
    except sa_exc.IntegrityError as exc:
        raise integrity_error_from(exc) from exc


# -- reads ---------------------------------------------------------------------------------------------------------
async def rows(plan: Plan, values: list[Any]) -> list[Any]:
    """The rows of a planned row, count, exists or aggregate statement (indexable by position)."""
    if _current.get() is None:
        database = get_database()
        form = _driver_form(plan, database)
        if form is not _NO_DRIVER:  # binds the values positionally itself
            fetched = await _driver_fetch(database, form, values, plan.key, write=False)
            if fetched is not None:
                return fetched
    return await core_rows(plan.statement, plan.bind(values), shape=plan.key)


async def instances(plan: Plan, values: list[Any]) -> list[Any]:
    """The model instances of a planned ``select_instances`` statement, annotations set as attributes. Outside a
    transaction no identity map is needed: unless the query prefetches, the rows are fetched like any others and
    the detached instances built from them."""
    if plan.rows is not None and plan.build_instances is not None and _current.get() is None:
        return plan.build_instances(await rows(plan.rows, values))
    params = plan.bind(values)
    token = hook.shape_var.set(plan.key)
    try:
        async with session_scope() as session:
            result = await session.execute(plan.statement, params)
            if not plan.annotations:
                return list(result.scalars().all())
            return _with_annotations(result.all(), plan.annotations)
    finally:
        hook.shape_var.reset(token)


async def stream(plan: Plan, values: list[Any], chunk_size: int) -> AsyncIterator[list[Any]]:
    """Chunks of ``chunk_size`` instances or rows of a planned statement (a server-side cursor on PostgreSQL)."""
    statement = plan.statement.execution_options(yield_per=chunk_size)
    params = plan.bind(values)
    entities = plan.result.kind == plans.INSTANCES
    bound = _state()
    if bound is not None:  # inside transaction(): stream in it
        result = await bound.session.stream(statement, params)
        async for partition in result.partitions(chunk_size):
            yield _with_annotations(partition, plan.annotations) if entities else list(partition)
        return
    # A session of its own, not bound to the caller's context: an async generator's code runs in the consumer's
    # context, so binding a transaction here would capture the consumer's writes.
    async with get_database().sessions() as session, session.begin():
        result = await session.stream(statement, params)
        async for partition in result.partitions(chunk_size):
            if not entities:
                yield list(partition)
                continue
            objects = _with_annotations(partition, plan.annotations)
            for obj in objects:
                session.expunge(obj)  # detached, like every other query's rows: save() works on them
            yield objects


async def core_rows(statement: Any, params: Any = None, *, write: bool = False, shape: Any = None) -> list[Any]:
    """Run a Core statement that returns rows through SQLAlchemy: the transaction's session, or an autocommit
    connection (committed when ``write``)."""
    token = hook.shape_var.set(shape)
    state = _state()
    try:
        if state is not None:
            return list((await state.session.execute(statement, params)).all())
        async with get_database().autocommit_engine.connect() as conn:
            found = list((await conn.execute(statement, params)).all())
            if write:
                await conn.commit()
            return found
    except sa_exc.IntegrityError as exc:
        raise integrity_error_from(exc) from exc
    finally:
        hook.shape_var.reset(token)


# -- writes --------------------------------------------------------------------------------------------------------
async def write(statement: Any, params: Any = None) -> int:
    """Run an UPDATE or DELETE; the number of rows it changed. Inside ``transaction()``, rows already loaded in its
    session take the new values (or leave it), so later reads in the block see them."""
    state = _state()
    options = {"synchronize_session": "fetch" if state is not None else False}
    async with session_scope(write=True) as session:
        result = await session.execute(statement, params, execution_options=options)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def insert_row(obj: Any) -> None:
    """Insert a new model instance in one ``INSERT ... RETURNING`` and set what the database gave it (its
    primary key, server defaults); the instance is then detached, like a loaded row."""
    model = type(obj)
    info = model_info(model)
    mapper = info.mapper
    table: Any = mapper.local_table
    eval_none = mapper._insert_cols_evaluating_none[table]  # what a flush sends for None
    state_dict = obj.__dict__
    names = tuple(
        attr.key
        for attr in mapper.column_attrs
        if attr.key in state_dict and (state_dict[attr.key] is not None or attr.columns[0] in eval_none)
    )
    database = get_database()
    key = (database.dialect, "insert", model, names)
    cached = plans.cache.get(key)
    if cached is None:
        columns = {attr.key: attr.columns[0] for attr in mapper.column_attrs}
        binds = tuple((f"fm{index}_{name}", index, None) for index, name in enumerate(names))
        given: dict[Any, Any] = {
            columns[name]: bindparam(bind) for name, (bind, _, _) in zip(names, binds, strict=True)
        }
        statement = insert(table).values(given)
        cached = Plan(
            statement.returning(*columns.values()),
            binds,
            Result(plans.TUPLES, tuple(columns)),
            (),
            key=("insert", model, names),
        )
        plans.cache.put(key, cached)
    values = [state_dict[name] for name in names]
    found: list[Any] | None = None
    if _current.get() is None and database.dialect == "postgresql":
        form = _driver_form(cached, database)
        if form is not _NO_DRIVER:
            found = await _driver_fetch(database, form, values, cached.key, write=True)
    if found is None:
        found = await core_rows(cached.statement, cached.bind(values), write=True, shape=cached.key)
    for name, value in zip(cached.result.fields, found[0], strict=True):
        set_committed_value(obj, name, value)
    make_transient_to_detached(obj)


async def insert_batches(
    table: Any, pk_column: Any, rows_: list[dict[str, Any]], batch_size: int, *, sqlite: bool
) -> list[Any]:
    """Insert ``rows_`` atomically in batches; their generated primary keys, in order (see fastmango.db.bulk)."""
    keys: list[Any] = []
    async with session_scope(atomic=True) as session:
        if sqlite:
            for start in range(0, len(rows_), batch_size):
                statement = insert(table).values(rows_[start : start + batch_size]).returning(pk_column)
                keys.extend(sorted(row[0] for row in (await session.execute(statement)).all()))
        else:
            statement = insert(table).returning(pk_column, sort_by_parameter_order=True)
            for start in range(0, len(rows_), batch_size):
                result = await session.execute(statement, rows_[start : start + batch_size])
                keys.extend(row[0] for row in result.all())
    return keys


async def flush(objs: Sequence[Any], *, atomic: bool) -> None:
    """Write model instances through the ORM's unit of work (changed fields of loaded rows, related objects)."""
    async with session_scope(write=True, atomic=atomic) as session:
        session.add_all(objs)
        await session.flush()


class _Gone(Exception):
    """The row of an instance being saved was deleted meanwhile (raised inside the scope: it rolls back)."""


async def flush_instance(obj: Any, *, atomic: bool) -> bool:
    """Write one instance's changes (and its related objects) through the unit of work; False when its row no
    longer exists."""
    try:
        async with session_scope(write=True, atomic=atomic) as session:
            session.add(obj)
            try:
                await session.flush()
            except StaleDataError:
                # Taken out before the rollback, which would otherwise expire (and so empty) the instance.
                session.expunge(obj)
                raise _Gone from None
    except _Gone:
        return False
    return True


async def delete_instance(obj: Any) -> None:
    """Delete one instance's row (and take it out of the transaction's session, if it is there)."""
    model = type(obj)
    pk_column = getattr(model, model_info(model).pk_name)
    statement = delete(model).where(pk_column == obj.pk)
    async with session_scope(write=True) as session:
        await session.execute(statement, execution_options={"synchronize_session": False})
        if obj in session:
            session.expunge(obj)


def dialect() -> str:
    """The connected database's dialect name (``sqlite``, ``postgresql``)."""
    return get_database().dialect


# -- the direct asyncpg route --------------------------------------------------------------------------------------
class _DriverForm:
    """A plan as the driver (asyncpg, aiosqlite) runs it: SQL, how to build the positional arguments, and column
    processors."""

    __slots__ = ("arguments", "names", "processors", "sql", "sqlite")

    def __init__(
        self, sql: str, arguments: list[Any], processors: list[Any] | None, names: list[str], *, sqlite: bool
    ) -> None:
        self.sql = sql
        self.sqlite = sqlite
        self.arguments = arguments  # per position: (value index, transform, bind processor) or (None, constant)
        self.processors = processors  # per column, None when no column needs one
        self.names = names


def _driver_form(plan: Plan, database: Database) -> Any:
    form = plan.driver
    if form is None:
        form = plan.driver = _compile_for_driver(plan, database)
    return form


def _compile_for_driver(plan: Plan, database: Database) -> Any:
    dialect = database.engine.dialect
    sqlite = database.dialect == "sqlite"
    statement = plan.statement
    compiled = statement.compile(dialect=dialect)
    expanding = {name for name, bind in compiled.binds.items() if getattr(bind, "expanding", False)}
    if sqlite and expanding:
        return _NO_DRIVER  # SQLite has no array parameter for an IN list
    if any(compiled.binds[name].type._is_tuple_type for name in expanding):
        return _NO_DRIVER  # a tuple IN: rendered per run by SQLAlchemy
    sql = _as_arrays(compiled.string, list(compiled.positiontup or ()), expanding) if expanding else compiled.string
    if sql is None:
        return _NO_DRIVER
    columns = getattr(statement, "selected_columns", None)
    processors: list[Any] = []
    for column in columns if columns is not None else statement._returning:
        try:
            processors.append(
                column.type._cached_result_processor(dialect, None if sqlite else _type_code(column.type))
            )
        except Exception:  # a type that needs the database's type code to decide: let SQLAlchemy run it
            return _NO_DRIVER
    slots = {name: (index, transform) for name, index, transform in plan.params}
    arguments: list[Any] = []
    names = list(compiled.positiontup or ())
    for name in names:
        processor = compiled._bind_processors.get(name)
        if name in expanding:  # a list for the array parameter (a set or tuple given), each value processed
            processor = _each(processor) if processor is not None else list
        if name in slots:
            index, transform = slots[name]
            arguments.append((index, transform, processor))
        else:
            value = compiled.params[name]
            arguments.append((None, processor(value) if processor else value, None))
    return _DriverForm(sql, arguments, processors if any(processors) else None, names, sqlite=sqlite)


_PLACEHOLDER = re.compile(r"\$\d+|(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")


def _as_arrays(sql: str, names: list[str], expanding: set[str]) -> str | None:
    """``sql`` with each expanding ``IN`` list as one array parameter (``= ANY($n)``, ``<> ALL($n)``: the same
    answers, NULLs included) and the parameters numbered again in order; None when the placeholders do not line up
    with ``names``."""
    position = 0
    failed = False

    def number(found: re.Match[str]) -> str:
        nonlocal position, failed
        if position >= len(names):
            failed = True
            return found.group(0)
        name = names[position]
        position += 1
        if found.group(2) is None:
            failed = failed or name in expanding
            return f"${position}"
        failed = failed or found.group(2) != name
        return f"{'<> ALL' if found.group(1) else '= ANY'}(${position})"

    rewritten = _PLACEHOLDER.sub(number, sql)
    return None if failed or position != len(names) else rewritten


def _each(processor: Any) -> Any:
    """A bind processor for a list of values (an expanding parameter): each value processed."""
    return lambda values: [processor(value) for value in values]


# PostgreSQL's type codes for the types whose result processing depends on them (asyncpg's numeric processor).
_FLOAT8, _NUMERIC = 701, 1700


def _type_code(column_type: Any) -> int | None:
    if isinstance(column_type, sqltypes.Float):
        return _FLOAT8
    if isinstance(column_type, sqltypes.Numeric):
        return _NUMERIC
    return None


async def _driver_fetch(
    database: Database, form: _DriverForm, values: list[Any], shape: Any, *, write: bool
) -> list[Any] | None:
    """The rows of ``form`` from the pool's driver connection (asyncpg, or aiosqlite for reads); None when the driver
    refused a read (then SQLAlchemy runs it and raises the error it maps)."""
    arguments = []
    for index, transform, processor in form.arguments:
        if index is None:
            arguments.append(transform)
            continue
        value = values[index]
        if transform is not None:
            value = transform(value)
        arguments.append(processor(value) if processor is not None else value)
    listening = hook.active()
    started = time.perf_counter() if listening else 0.0
    raw = _idle_connection(database) or await database.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if form.sqlite:  # the connection is in the driver's autocommit mode (engine._sqlite_on_connect)
            if driver.in_transaction and not isinstance(database.engine.sync_engine.pool, StaticPool):
                # A pooled connection handed back inside a transaction (a cancelled one): SQLAlchemy's autocommit
                # connection reads and rolls it back on close, so that the next transaction can begin.
                return None
            found = list(await driver.execute_fetchall(form.sql, arguments))
        else:
            found = await driver.fetch(form.sql, *arguments)
    except Exception as exc:
        if form.sqlite:
            # Never invalidated: a locked database's connection is healthy (in memory it holds the whole database).
            if isinstance(exc, sqlite3.OperationalError):  # locked, no such table...: SQLAlchemy's class, as before,
                raise sa_exc.OperationalError(form.sql, None, exc) from exc  # without waiting the busy timeout twice
            return None  # anything else: SQLAlchemy runs the read again and raises what it maps
        reason = unavailable_reason(exc)
        if reason is not None:
            raw.invalidate()
            raise DatabaseUnavailable(reason) from exc
        if write:  # never run a write twice: report the driver's refusal as SQLAlchemy would
            raise _driver_error(exc, form.sql) from exc
        return None
    finally:
        raw.close()
    if listening:
        hook.emit(
            hook.QueryEvent(
                sql=form.sql,
                params=tuple(arguments),
                names=form.names,
                duration=time.perf_counter() - started,
                rows=len(found),
                shape=shape,
                connection="driver",
            )
        )
    processors = form.processors
    if processors is None:
        return found
    return [tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True)) for row in found]


def _idle_connection(database: Database) -> Any:
    """An idle pooled connection, checked out without the greenlet the async engine runs every checkout in (the
    checkout of an idle connection does no I/O); None when none is idle or it must be reconnected first (then
    ``engine.raw_connection()`` does it, waiting for a free connection if need be)."""
    pool = database.engine.sync_engine.pool
    if isinstance(pool, StaticPool):  # SQLite in memory: its one connection, once it exists
        record = pool.__dict__.get("connection")
        if record is None or record.dbapi_connection is None:
            return None
    else:
        idle = getattr(pool, "checkedin", None)  # a NullPool (tests) keeps none
        if idle is None or not idle():
            return None
    try:
        return pool.connect()
    except (NeedsGreenlet, sa_exc.MissingGreenlet):  # it must be reconnected first: the pool took it back
        return None


def _driver_error(exc: Exception, sql: str) -> Exception:
    """fastmango's IntegrityError or SQLAlchemy's DataError for an asyncpg refusal; other errors unchanged."""
    sqlstate = str(getattr(exc, "sqlstate", "") or "")
    if sqlstate.startswith("23"):
        return integrity_error_from(SimpleNamespace(orig=exc, statement=sql))
    if sqlstate.startswith("22") or type(exc).__name__ == "DataError":
        exc.args = tuple(redact_values(a) if isinstance(a, str) else a for a in exc.args)
        return sa_exc.DataError(sql, None, exc)
    return exc


def _with_annotations(found: Sequence[Any], names: Sequence[str]) -> list[Any]:
    """The model instances of ``found`` (entity first), with annotation values set as attributes."""
    objects = []
    for row in found:
        obj = row[0]
        for index, name in enumerate(names, start=1):
            obj.__dict__[name] = row[index]
        objects.append(obj)
    return objects
