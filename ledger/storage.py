"""Database engines for a log's home: SQLite (embedded default) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy import ColumnElement, and_, event, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import Insert

from . import schema


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine tuned for an append-heavy log.

    SQLite runs in WAL mode (readers never block the writer) and write transactions can be opened with
    `BEGIN IMMEDIATE` (execution option `immediate=True`), so that a second process fails fast on the
    lock instead of deadlocking on an upgrade from a read snapshot.
    """
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        sync_engine = engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # let the begin hook below issue BEGIN
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=10000")
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL unless it already is.

    The switch needs an exclusive lock and SQLite answers "database is locked" at once, without the busy
    handler, when a second fresh connection races for it. The mode is persistent in the file and a
    connection that lost the race picks it up at its next transaction, so losing is harmless.
    """
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except Exception as error:  # the adapted sqlite3.OperationalError
        if "locked" not in str(error):
            raise


async def create_tables(engine: AsyncEngine) -> None:
    """Create the log's tables if they are missing (idempotent)."""
    async with engine.begin() as conn:
        await conn.run_sync(schema.metadata.create_all)


def insert_ignore(conn: AsyncConnection, table: Any, keys: list[str]) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO NOTHING for the connection's dialect."""
    dialect = conn.dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing(index_elements=keys)


def upsert(conn: AsyncConnection, table: Any, keys: list[str]) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO UPDATE for the connection's dialect.

    Used only for the log's right edge: a partial tile or bundle grows until it is full, and its
    growing prefix never changes (full tiles are immutable).
    """
    dialect = conn.dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    updates = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys}
    return insert.on_conflict_do_update(index_elements=keys, set_=updates)


TileRow = tuple[int, int, int, bytes]
"""(level, idx, width, expanded hashes)"""


def _group_by_level(keys: Iterable[tuple[int, int]]) -> list[tuple[int, list[int]]]:
    by_level: dict[int, list[int]] = {}
    for level, idx in keys:
        by_level.setdefault(level, []).append(idx)
    return sorted(by_level.items())


def tiles_in(keys: Iterable[tuple[int, int]]) -> ColumnElement[bool]:
    """WHERE clause for a set of tiles, as per-level IN lists: SQLite scans the whole table for a
    row-value IN, but uses the primary key for this form."""
    return or_(
        *(
            and_(schema.tiles.c.level == level, schema.tiles.c.idx.in_(idxs))
            for level, idxs in _group_by_level(keys)
        )
    )


class TileReader:
    """Fetches tiles for proofs in one round trip.

    Measured here, one indexed read through SQLAlchemy's aiosqlite dialect costs ~460 us (several thread
    hops per statement), against ~110 us for aiosqlite's own `execute_fetchall`; proofs must take under
    a millisecond at p99, so on SQLite the reader keeps one raw read-only aiosqlite connection. Other
    databases go through SQLAlchemy (asyncpg needs one round trip anyway).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite_path = (
            engine.url.database
            if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")
            else None
        )
        self._raw: aiosqlite.Connection | None = None

    async def fetch(self, keys: Sequence[tuple[int, int]]) -> list[TileRow]:
        if not keys:
            return []
        if self._sqlite_path is not None:
            return await self._fetch_sqlite(keys)
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(
                    schema.tiles.c.level,
                    schema.tiles.c.idx,
                    schema.tiles.c.width,
                    schema.tiles.c.hashes,
                ).where(tiles_in(keys))
            )
            return [(r.level, r.idx, r.width, r.hashes) for r in rows]

    async def _fetch_sqlite(self, keys: Sequence[tuple[int, int]]) -> list[TileRow]:
        if self._raw is None:
            self._raw = await aiosqlite.connect(f"file:{self._sqlite_path}?mode=ro", uri=True)
        clauses, params = [], []
        for level, idxs in _group_by_level(keys):
            clauses.append(f"(level = ? AND idx IN ({', '.join('?' * len(idxs))}))")
            params.append(level)
            params.extend(idxs)
        sql = f"SELECT level, idx, width, hashes FROM {schema.tiles.name} WHERE {' OR '.join(clauses)}"
        rows = await self._raw.execute_fetchall(sql, params)
        return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    async def close(self) -> None:
        if self._raw is not None:
            await self._raw.close()
            self._raw = None
