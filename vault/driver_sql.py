"""The serving path's SQL on the driver's own connections (SQLite, the embedded default).

A SELECT through SQLAlchemy's async adapter for aiosqlite costs the event loop's thread ~300 µs
(a pool checkout, an explicit BEGIN, four hand-offs to the connection's thread for cursor, execute,
fetch and close, result metadata, the rollback on return); the same statement through aiosqlite's
`execute_fetchall` costs ~11 µs and one hand-off (bench/bench_gateway.py, decision 0075). The
gateway's list query runs two per request, which made them most of the request's time.

`DriverSql.fetch(statement)` keeps SQLAlchemy as the one place SQL is written: the statement is
built as before and compiled by SQLAlchemy for the shard's dialect, once per statement shape (keyed
by its cache key, as SQLAlchemy's own compiled cache is); only its execution moves. The bound values
go through the statement's bind processors and every selected column through its result processor,
so rows carry the same Python values as rows read through SQLAlchemy (datetimes, not text).

Reads run in autocommit (each statement its own snapshot) on a few read-only connections per shard,
each with its own thread. Two statements of one answer may therefore see two snapshots; the data they
read is append-only (records and events are never updated or deleted), so a later snapshot only adds
rows. `append(table, rows)` inserts rows of an append-only side table (the access log) in one
transaction on one more connection, which waits for SQLite's write lock like any writer
(busy_timeout). PostgreSQL shards keep SQLAlchemy's asyncpg path for both.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import aiosqlite
from sqlalchemy import Table, insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import ExpandedState, SQLCompiler

COMPILED_SHAPES = 256
"""Statement shapes kept compiled per shard: a shape is the statement without its values (the
scopes' count and kinds, the filters given), so a few dozen cover every query the hub makes."""


@dataclass(frozen=True)
class _Compiled:
    compiled: SQLCompiler
    row: Callable[..., Any]
    """Builds a row with attribute access by column name (a namedtuple class)."""
    results: tuple[Callable[[Any], Any] | None, ...]
    """Each column's result processor (None: the driver's value is the value)."""


class DriverSql:
    """One shard's serving-path SQL on its driver's connections; see the module's docstring."""

    def __init__(self, engine: AsyncEngine, connections: int) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        database = make_url(str(engine.url)).database
        on_file = engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")
        self._size = connections if on_file else 0
        self._connections: list[aiosqlite.Connection] = []
        self._writer: aiosqlite.Connection | None = None
        self._writing: asyncio.Lock | None = None
        self._next = itertools.cycle(range(max(self._size, 1)))
        self._opening: asyncio.Lock | None = None
        self._compiled: OrderedDict[Any, _Compiled] = OrderedDict()
        self._inserts: dict[tuple[str, tuple[str, ...]], SQLCompiler] = {}

    @property
    def on_driver(self) -> bool:
        """True when reads bypass SQLAlchemy's execution (SQLite with read connections)."""
        return self._size > 0

    async def fetch(self, statement: Select[Any]) -> list[Any]:
        """The statement's rows, each with attribute access by column name."""
        if not self.on_driver:
            async with self._engine.connect() as conn:
                return list((await conn.execute(statement)).all())
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
        expanded = compiled.construct_expanded_state(values)
        connection = await self._connection()
        raw = await connection.execute_fetchall(expanded.statement, _positional(compiled, expanded))
        results, row = entry.results, entry.row
        if not any(results):
            return [row(*r) for r in raw]
        return [
            row(*(p(v) if p is not None else v for p, v in zip(results, r, strict=True)))
            for r in raw
        ]

    async def append(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert `rows` (each with the same keys) into an append-only table, in one transaction."""
        if not rows:
            return
        if not self.on_driver:
            async with self._engine.begin() as conn:
                await conn.execute(insert(table), list(rows))
            return
        shape = (table.name, tuple(rows[0]))
        compiled = self._inserts.get(shape)
        if compiled is None:
            made = insert(table).compile(dialect=self._dialect, column_keys=list(rows[0]))
            assert isinstance(made, SQLCompiler)
            compiled = self._inserts[shape] = made
        states = [compiled.construct_expanded_state(dict(row)) for row in rows]
        if self._writing is None:
            self._writing = asyncio.Lock()
        async with self._writing:  # one transaction at a time on the one write connection
            if self._writer is None:
                self._writer = await _open(self._engine, read_only=False)
            writer = self._writer
            try:
                await writer.execute("BEGIN IMMEDIATE")
                await writer.executemany(
                    states[0].statement, [_positional(compiled, s) for s in states]
                )
                await writer.commit()
            except BaseException:
                await asyncio.shield(writer.rollback())
                raise

    def _compile(self, statement: Select[Any], key: Any) -> _Compiled:
        # with its cache key, so that later statements of the shape map their values onto it
        compiled = statement.compile(dialect=self._dialect, cache_key=key)
        assert isinstance(compiled, SQLCompiler)
        columns = list(statement.selected_columns)
        names = [str(c.key) for c in columns]
        results = tuple(
            c.type.dialect_impl(self._dialect).result_processor(self._dialect, None)
            for c in columns
        )
        return _Compiled(compiled, namedtuple("Row", names, rename=True), results)

    async def _connection(self) -> aiosqlite.Connection:
        if len(self._connections) < self._size:
            await self._open()
        return self._connections[next(self._next)]

    async def _open(self) -> None:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            while len(self._connections) < self._size:
                self._connections.append(await _open(self._engine, read_only=True))

    async def close(self) -> None:
        connections, self._connections = self._connections, []
        if self._writer is not None:
            connections.append(self._writer)
            self._writer = None
        for connection in connections:
            await connection.close()


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


async def _open(engine: AsyncEngine, *, read_only: bool) -> aiosqlite.Connection:
    """A connection in autocommit mode (transactions are explicit) with the engine's busy timeout;
    a reading one opened `mode=ro` and `query_only`, so it cannot write whatever it is asked."""
    database = quote(make_url(str(engine.url)).database or "")
    mode = "ro" if read_only else "rw"
    connection = await aiosqlite.connect(
        f"file:{database}?mode={mode}", uri=True, isolation_level=None
    )
    await connection.execute("PRAGMA busy_timeout=10000")
    if read_only:
        await connection.execute("PRAGMA query_only=ON")
    else:
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA foreign_keys=ON")
    return connection
