"""The serving path's SQL on the driver's connections answers exactly what SQLAlchemy answers.

`DriverSql` moves only the execution of statements SQLAlchemy built and compiled: the same rows
with the same Python values must come back, and appended rows must be stored exactly as SQLAlchemy
stores them (SQLite keeps datetimes as text, and queries compare that text)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cbamhub.ledger.storage import create_engine
from cbamhub.vault import schema
from cbamhub.vault.driver_sql import DriverSql
from sqlalchemy import and_, insert, literal_column, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

T0 = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
LOG = schema.access_log


def row(i: int, reader: str = "org_eu_importer", fields: str | None = '["see_direct"]') -> dict:
    return {
        "id": f"log_{i:03d}",
        "record_id": f"rec_row_{i % 7:03d}",
        "manufacturer_id": "org_row_maker",
        "reader_id": reader,
        "request_id": None if i % 3 else f"req-{i}",
        "fields": fields if i % 2 else None,
        "read_at": T0 + timedelta(seconds=i // 2),  # pairs share a time: ties broken by id
    }


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(schema.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def direct(engine: AsyncEngine) -> AsyncIterator[DriverSql]:
    direct = DriverSql(engine, connections=2)
    yield direct
    await direct.close()


async def through_sqlalchemy(engine: AsyncEngine, statement: Any) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(statement)).all()]


def keyset_page(
    after: tuple[datetime, str] | None, readers: list[str], limit: int, dialect: str
) -> Any:
    """A statement shaped like the record list's: OR-ed scopes, a keyset, an order (SQLite's
    unary plus as vault/querying.py writes it), a limit."""
    query = select(LOG).where(LOG.c.reader_id.in_(readers))
    if after is not None:
        at, last = after
        query = query.where(or_(LOG.c.read_at > at, and_(LOG.c.read_at == at, LOG.c.id > last)))
    first = literal_column("+access_log.read_at") if dialect == "sqlite" else LOG.c.read_at
    return query.order_by(first, LOG.c.id).limit(limit)


async def test_on_sqlite_files_statements_bypass_sqlalchemy(
    engine: AsyncEngine, direct: DriverSql
) -> None:
    assert direct.on_driver is (engine.dialect.name == "sqlite")
    assert DriverSql(create_engine("sqlite+aiosqlite://"), 2).on_driver is False  # in memory


async def test_appended_rows_are_stored_as_sqlalchemy_stores_them(
    engine: AsyncEngine, direct: DriverSql
) -> None:
    await direct.append(LOG, [row(1), row(3)])
    async with engine.begin() as conn:
        await conn.execute(insert(LOG), [{**row(1), "id": "via_sqlalchemy"}])
        stored = {
            r[0]: tuple(r[1:])
            for r in await conn.execute(
                text("SELECT id, read_at, fields, request_id FROM access_log")
            )
        }
    assert stored["log_001"] == stored["via_sqlalchemy"]  # the same text for the same datetime
    assert stored["log_003"][1:] == ('["see_direct"]', "req-3")


async def test_pages_of_every_shape_match_sqlalchemy_row_for_row(
    engine: AsyncEngine, direct: DriverSql
) -> None:
    await direct.append(LOG, [row(i, reader=("a", "b", "c")[i % 3]) for i in range(40)])
    for readers in (["a"], ["a", "c"], ["a", "b", "c"], ["nobody"]):
        for limit in (1, 3, 50):
            after: tuple[datetime, str] | None = None
            while True:  # walk every page: each compiled shape reused with new values
                statement = keyset_page(after, readers, limit, engine.dialect.name)
                ours = await direct.fetch(statement)
                theirs = await through_sqlalchemy(engine, statement)
                assert [tuple(r) for r in ours] == theirs
                if len(ours) < limit:
                    break
                last = ours[-1]
                assert isinstance(last.read_at, datetime)  # values, not the stored text
                after = (last.read_at, last.id)


async def test_the_same_shape_with_other_values_is_not_answered_from_the_first(
    direct: DriverSql,
) -> None:
    await direct.append(LOG, [row(i, reader=f"r{i % 4}") for i in range(12)])
    for reader in ("r0", "r1", "r2", "r3"):
        found = await direct.fetch(select(LOG.c.reader_id).where(LOG.c.reader_id == reader))
        assert {r.reader_id for r in found} == {reader}
        assert len(found) == 3


async def test_an_append_is_one_transaction_all_or_nothing(
    engine: AsyncEngine, direct: DriverSql
) -> None:
    await direct.append(LOG, [row(1)])
    with pytest.raises((IntegrityError, sqlite3.IntegrityError)) as raised:
        await direct.append(LOG, [row(2), row(3), row(1)])  # row 1's id is taken
    assert "unique" in str(raised.value).lower()
    ids = [r.id for r in await direct.fetch(select(LOG.c.id).order_by(LOG.c.id))]
    assert ids == ["log_001"]
    await direct.append(LOG, [row(2)])  # the write connection is usable again
    assert len(await through_sqlalchemy(engine, select(LOG.c.id))) == 2


async def test_reads_see_what_sqlalchemy_wrote_after_they_opened(
    engine: AsyncEngine, direct: DriverSql
) -> None:
    assert await direct.fetch(select(LOG.c.id)) == []
    async with engine.begin() as conn:
        await conn.execute(insert(LOG), [row(5)])
    assert [r.id for r in await direct.fetch(select(LOG.c.id))] == ["log_005"]


async def test_a_statement_with_two_columns_of_one_name_is_refused(tmp_path: Path) -> None:
    """SQLAlchemy's rows refuse an ambiguous name; ours must not quietly pick one of the two."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'shard.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(schema.metadata.create_all)
    direct = DriverSql(engine, connections=1)
    other = LOG.alias("other")
    statement = select(LOG.c.id, other.c.id).join_from(LOG, other, LOG.c.id == other.c.id)
    try:
        with pytest.raises(ValueError, match="two columns of one name"):
            await direct.fetch(statement)
    finally:
        await direct.close()
        await engine.dispose()


async def test_a_built_statement_is_compiled_and_bound_once_and_answers_new_rows(
    engine: AsyncEngine, direct: DriverSql, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement `built` holds keeps its SQL and values (they cannot change); one it does not
    hold is prepared again each time. Either way every fetch reads the table anew."""
    prepared: list[Any] = []
    original = DriverSql._prepare

    def counting(self: DriverSql, statement: Any) -> Any:
        prepared.append(statement)
        return original(self, statement)

    monkeypatch.setattr(DriverSql, "_prepare", counting)
    held = direct.built(("by reader", "a"), lambda: select(LOG.c.id).where(LOG.c.reader_id == "a"))
    assert direct.built(("by reader", "a"), lambda: select(LOG.c.id)) is held
    seen = []
    for i in range(3):
        await direct.append(LOG, [row(i, reader="a")])
        seen.append(len(await direct.fetch(held)))
        await direct.fetch(select(LOG.c.id).where(LOG.c.reader_id == "a"))  # not held
    assert seen == [1, 2, 3]
    if direct.on_driver:
        assert sum(s is held for s in prepared) == 1
        assert len(prepared) == 4


async def test_a_statement_let_go_by_built_is_forgotten_with_it(
    direct: DriverSql, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cbamhub.vault.driver_sql.BUILT_STATEMENTS", 2)
    await direct.append(LOG, [row(i, reader=f"r{i}") for i in range(4)])
    for i in range(4):  # r0 and r1 are let go on the way
        statement = direct.built(i, lambda i=i: select(LOG.c.id).where(LOG.c.reader_id == f"r{i}"))
        assert [r.id for r in await direct.fetch(statement)] == [f"log_{i:03d}"]
    assert len(direct._prepared) <= 2  # nothing kept for statements no longer held


async def test_a_failed_or_abandoned_call_leaves_the_connection_serving(
    direct: DriverSql,
) -> None:
    with pytest.raises(Exception, match="no such table|does not exist"):
        await direct.fetch(select(text("x")).select_from(text("missing_table")))
    slow = asyncio.ensure_future(direct.append(LOG, [row(i) for i in range(200)]))
    await asyncio.sleep(0)
    slow.cancel()  # the awaiting request went away; its rows are written or not, all or nothing
    await asyncio.gather(slow, return_exceptions=True)
    await direct.append(LOG, [row(900)])
    count = len(await direct.fetch(select(LOG.c.id)))
    assert count in (1, 201)


async def test_after_close_a_call_is_refused_clearly(engine: AsyncEngine) -> None:
    direct = DriverSql(engine, connections=1)
    await direct.fetch(select(LOG.c.id))
    await direct.close()
    if direct.on_driver:
        with pytest.raises(RuntimeError, match="closed"):
            await direct.fetch(select(LOG.c.id))
