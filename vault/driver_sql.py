"""The serving path's SQL on the driver's own connections (SQLite, the embedded default).

A SELECT through SQLAlchemy's async adapter for aiosqlite costs the event loop's thread ~300 µs
(a pool checkout, an explicit BEGIN, four hand-offs to the connection's thread for cursor, execute,
fetch and close, result metadata, the rollback on return); the same statement handed to a thread
that owns a plain sqlite3 connection costs ~11 µs and one hand-off (decision 0075). Every hand-off
also costs the other thread its wake-up and a GIL exchange, so a call here does all its statements
in one: a page and its events are one hand-off, an append (BEGIN, INSERTs, COMMIT) is one.

`DriverSql.fetch(statement)` keeps SQLAlchemy as the one place SQL is written: the statement is
built as before and compiled by SQLAlchemy for the shard's dialect, once per statement shape (keyed
by its cache key, as SQLAlchemy's own compiled cache is); only its execution moves. The bound values
go through the statement's bind processors and every selected column through its result processor,
so rows carry the same Python values as rows read through SQLAlchemy (datetimes, not text).

Used for the serving path's reads (a list page and its events, records by id, grant lists and the
grants version, registered keys) and the access log's appends. Reads run on a few read-only
connections per shard (`shard_read_connections`), each owned by its own thread; the statements of
one `fetch_each` run in one read transaction, so they see one snapshot. `append(table, rows)`
inserts rows of an append-only side table in one transaction on one more connection, which waits
for SQLite's write lock like any writer (busy_timeout). PostgreSQL shards keep SQLAlchemy's asyncpg
path for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import sqlite3
import threading
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import quote

from sqlalchemy import Table, insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import ExpandedState, SQLCompiler

COMPILED_SHAPES = 256
"""Statement shapes kept compiled per shard: a shape is the statement without its values (the
scopes' count and kinds, the filters given), so a few dozen cover every query the hub makes."""

BUILT_STATEMENTS = 1024
"""Statements kept built per shard by `built` (the same inputs give the same statement)."""

BUSY_TIMEOUT_MS = 10_000

_T = TypeVar("_T")
_Sql = tuple[str, list[Any]]
_UNBOUND: Any = object()
_InsertPlan = tuple[str, list[tuple[str, Callable[[Any], Any] | None]]]


@dataclass(frozen=True)
class _Compiled:
    compiled: SQLCompiler
    row: Callable[..., Any]
    """Builds a row with attribute access by column name (a namedtuple class)."""
    results: tuple[Callable[[Any], Any] | None, ...]
    """Each column's result processor (None: the driver's value is the value)."""

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Any]:
        results, row = self.results, self.row
        if not any(results):
            return [row(*r) for r in raw]
        return [
            row(*(p(v) if p is not None else v for p, v in zip(results, r, strict=True)))
            for r in raw
        ]


class _Connection:
    """A sqlite3 connection and the one thread that uses it (sqlite3 objects stay on their thread).

    Work reaches the thread through a queue and its answer returns through
    `loop.call_soon_threadsafe`, straight into the awaiting future: `run_in_executor` would add a
    `concurrent.futures.Future` (a lock, a condition) and a callback chain per call, ~10-20 % of a
    served read's CPU around 11 µs of SQLite (decision 0102).
    """

    def __init__(self, database: str, *, read_only: bool, name: str) -> None:
        self._database = database
        self._read_only = read_only
        self._name = name
        self._work: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    async def run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed:
            raise RuntimeError("the shard's driver connections are closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._work.put((work, loop, future))
        return await future

    def _serve(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            while (job := self._work.get()) is not None:
                work, loop, future = job
                try:
                    if db is None:
                        db = _open(self._database, read_only=self._read_only)
                    result, error = work(db), None
                except BaseException as raised:  # handed to the awaiting coroutine, as raised
                    result, error = None, raised
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                    loop.call_soon_threadsafe(_settle, future, result, error)
        finally:
            if db is not None:
                db.close()

    async def close(self) -> None:
        """Finish the queued work, close the connection on its own thread, end the thread."""
        self._closed = True
        if self._thread is not None:
            self._work.put(None)
            await asyncio.to_thread(self._thread.join)


_Job = tuple[Callable[[sqlite3.Connection], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """On the loop: the thread's answer into the future, unless its awaiter went away."""
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DriverSql:
    """One shard's serving-path SQL on its driver's connections; see the module's docstring."""

    def __init__(self, engine: AsyncEngine, connections: int) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        database = make_url(str(engine.url)).database
        on_file = engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")
        self._size = connections if on_file else 0
        self._readers = [
            _Connection(database or "", read_only=True, name="sqlite-read")
            for _ in range(self._size)
        ]
        self._writer = _Connection(database or "", read_only=False, name="sqlite-append")
        self._next = itertools.cycle(self._readers)
        self._compiled: OrderedDict[Any, _Compiled] = OrderedDict()
        self._inserts: dict[tuple[str, tuple[str, ...]], _InsertPlan] = {}
        self._built: OrderedDict[Hashable, Select[Any]] = OrderedDict()
        self._prepared: dict[int, tuple[_Compiled, _Sql] | None] = {}
        """Each statement `built` holds, by id (None until first run): its compiled form and its
        SQL with values. The id is the statement's for as long as `built` holds it."""

    @property
    def on_driver(self) -> bool:
        """True when statements bypass SQLAlchemy's execution (SQLite files)."""
        return self._size > 0

    def built(self, key: Hashable, build: Callable[[], Select[Any]]) -> Select[Any]:
        """`build()`, kept by `key` (which must name every input of the build): building a
        statement and its cache key costs ~130 µs, and a hot list asks for the same one often."""
        statement = self._built.get(key)
        if statement is None:
            statement = self._built[key] = build()
            self._prepared[id(statement)] = None
            if len(self._built) > BUILT_STATEMENTS:
                _, gone = self._built.popitem(last=False)
                self._prepared.pop(id(gone), None)
        return statement

    async def fetch(self, statement: Select[Any]) -> list[Any]:
        """The statement's rows, each with attribute access by column name."""
        return (await self.fetch_each([statement]))[0]

    async def fetch_each(self, statements: Sequence[Select[Any]]) -> list[list[Any]]:
        """Each statement's rows, all read in one snapshot (and, on SQLite, one hand-off)."""
        if not self.on_driver:
            async with self._engine.connect() as conn:
                return [list((await conn.execute(s)).all()) for s in statements]
        prepared = [self._sql(s) for s in statements]
        sql = [statement for _, statement in prepared]
        raw = await next(self._next).run(lambda db: _read(db, sql))
        return [c.rows(r) for (c, _), r in zip(prepared, raw, strict=True)]

    async def append(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert `rows` (each with the same keys) into an append-only table, in one transaction."""
        if not rows:
            return
        if not self.on_driver:
            async with self._engine.begin() as conn:
                await conn.execute(insert(table), list(rows))
            return
        shape = (table.name, tuple(rows[0]))
        plan = self._inserts.get(shape)
        if plan is None:
            plan = self._inserts[shape] = self._insert_plan(table, list(rows[0]))
        statement, columns = plan
        bound: dict[tuple[str, Any], Any] = {}  # rows of a batch share values (a request's time)

        def bind(key: str, process: Callable[[Any], Any], value: Any) -> Any:
            if value is None or value.__hash__ is None:
                return process(value)
            found = bound.get((key, value), _UNBOUND)
            if found is _UNBOUND:
                found = bound[(key, value)] = process(value)
            return found

        values = [[bind(k, v, row[k]) if v else row[k] for k, v in columns] for row in rows]
        await self._writer.run(lambda db: _append(db, statement, values))

    def _insert_plan(self, table: Table, keys: list[str]) -> _InsertPlan:
        """The INSERT's SQL and, per placeholder, its row key and bind processor."""
        compiled = insert(table).compile(dialect=self._dialect, column_keys=keys)
        assert isinstance(compiled, SQLCompiler)
        order = list(compiled.positiontup or ())
        assert sorted(order) == sorted(keys), "an INSERT binds each given column once, by its name"
        processors = cast(Mapping[str, Callable[[Any], Any]], compiled._bind_processors)
        return compiled.string, [(k, processors.get(k)) for k in order]

    def _sql(self, statement: Select[Any]) -> tuple[_Compiled, _Sql]:
        """The statement's SQL and positional values; kept for a statement `built` holds (its
        values are fixed), which saves SQLAlchemy's cache key, parameter and expansion work."""
        held = id(statement) in self._prepared
        slot = self._prepared.get(id(statement))
        if slot is not None:
            return slot
        compiled, expanded = self._prepare(statement)
        answer = compiled, (expanded.statement, _positional(compiled.compiled, expanded))
        if held:  # built and held: same object, same values, until `built` lets it go
            self._prepared[id(statement)] = answer
        return answer

    def _prepare(self, statement: Select[Any]) -> tuple[_Compiled, ExpandedState]:
        key = statement._generate_cache_key()  # SQLAlchemy's own compiled-cache key
        assert key is not None, "every statement of the read path is cacheable"
        entry = self._compiled.get(key.key)
        if entry is None:
            entry = self._compile(statement, key)
            self._compiled[key.key] = entry
            if len(self._compiled) > COMPILED_SHAPES:
                self._compiled.popitem(last=False)
        compiled = entry.compiled
        values = compiled.construct_params(extracted_parameters=key.bindparams)
        return entry, compiled.construct_expanded_state(values)

    def _compile(self, statement: Select[Any], key: Any) -> _Compiled:
        # with its cache key, so that later statements of the shape map their values onto it
        compiled = statement.compile(dialect=self._dialect, cache_key=key)
        assert isinstance(compiled, SQLCompiler)
        columns = list(statement.selected_columns)
        names = [str(c.key) if c.key is not None else f"_{i}" for i, c in enumerate(columns)]
        if len(set(names)) < len(names):  # SQLAlchemy's rows refuse such names as ambiguous
            raise ValueError(f"a statement selects two columns of one name: {names}")
        results = tuple(
            c.type.dialect_impl(self._dialect).result_processor(self._dialect, None)
            for c in columns
        )
        return _Compiled(compiled, namedtuple("Row", names, rename=True), results)

    async def close(self) -> None:
        for connection in [*self._readers, self._writer]:
            await connection.close()


def _read(db: sqlite3.Connection, statements: list[_Sql]) -> list[list[tuple[Any, ...]]]:
    """On the connection's thread: the statements in one read transaction (one snapshot)."""
    db.execute("BEGIN")
    try:
        return [db.execute(sql, values).fetchall() for sql, values in statements]
    finally:
        _end(db)  # a read transaction: ends the snapshot, writes nothing


def _append(db: sqlite3.Connection, statement: str, values: list[list[Any]]) -> None:
    """On the writer's thread: all rows or none. A failed COMMIT rolls back too, so the next
    append never finds a transaction left open."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.executemany(statement, values)
        db.execute("COMMIT")
    except BaseException:
        _end(db, rollback=True)
        raise


def _end(db: sqlite3.Connection, *, rollback: bool = False) -> None:
    if db.in_transaction:
        db.execute("ROLLBACK" if rollback else "COMMIT")


def _positional(compiled: SQLCompiler, expanded: ExpandedState) -> list[Any]:
    """The statement's values in placeholder order, through their bind processors (e.g. a datetime
    to the text SQLite stores), as SQLAlchemy's DefaultExecutionContext prepares them."""
    # the processors SQLAlchemy applies (a sequence of them only for tuple types, never used here)
    processors = cast(Mapping[str, Callable[[Any], Any]], compiled._bind_processors)
    if expanded.processors:
        processors = {**processors, **expanded.processors}
    return [
        processors[name](value) if name in processors else value
        for name, value in zip(
            expanded.positiontup or (), expanded.positional_parameters, strict=True
        )
    ]


def _open(database: str, *, read_only: bool) -> sqlite3.Connection:
    """A connection whose transactions are explicit, with the engine's busy timeout; a reading one
    opened `mode=ro` and `query_only`, so it cannot write whatever it is asked."""
    mode = "ro" if read_only else "rw"
    db = sqlite3.connect(
        f"file:{quote(database)}?mode={mode}", uri=True, isolation_level=None, timeout=0
    )
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if read_only:
        db.execute("PRAGMA query_only=ON")
    else:
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
    return db
