"""Schema migrations of a region's shard (Alembic), run on each shard on its own.

A shard holds the vault's tables and its region's log tables in one database, so one migration history
covers both metadatas. The hub's engines are async; Alembic is sync, so every command runs inside
`AsyncConnection.run_sync` with the connection handed to vault/migrations/env.py. The Config is built
here in code: no alembic.ini has to ship or be found at runtime.

Each upgrade is one transaction (PostgreSQL and SQLite both have transactional DDL), serialised against
concurrent upgraders (a transaction-scoped advisory lock on PostgreSQL, `BEGIN IMMEDIATE` on SQLite),
so two hub nodes starting at once apply a revision once, and a failed revision leaves no half-migrated
shard.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cbamhub.ledger import schema as ledger_schema
from cbamhub.ledger.storage import create_engine
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from . import schema as vault_schema

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

BASELINE_REVISION = "0001"
BASELINE_TABLES = frozenset(
    {
        "organisations",
        "organisation_keys",
        "records",
        "ledger_head",
        "ledger_tiles",
        "ledger_entry_bundles",
        "ledger_checkpoints",
        "ledger_final_checkpoints",
    }
)
"""The tables revision 0001 creates: shards made by `create_all` before migrations existed hold exactly
these, and are adopted (stamped at 0001) instead of failing on CREATE TABLE."""

# pg_advisory_xact_lock key: "cbamshrd" as a big-endian int64, the same on every node.
_PG_LOCK_KEY = int.from_bytes(b"cbamshrd", "big") - (1 << 63)

_T = TypeVar("_T")


class SchemaMismatch(RuntimeError):
    """The shard holds some of the hub's tables but no migration version: it was not made by the hub's
    `create_all` nor by a migration, and is left alone rather than guessed at."""


def target_metadata() -> MetaData:
    """The vault's and the log's tables as one MetaData: both live in each shard, and autogenerate
    must see them together, or it would report the other half's tables as to be dropped."""
    combined = MetaData()
    for metadata in (vault_schema.metadata, ledger_schema.metadata):
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


def make_config(connection: Connection | None = None) -> Config:
    """Alembic's Config for the shard migrations, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(make_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations under {MIGRATIONS_DIR}")
    return head


def _prepare_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


async def _in_transaction(
    url_or_engine: str | AsyncEngine, work: Callable[[Connection], _T], *, write: bool
) -> _T:
    """Run `work` on the sync face of one transaction; dispose the engine only if we made it."""
    if isinstance(url_or_engine, str):
        _prepare_sqlite_dir(url_or_engine)
        engine = create_engine(url_or_engine)
    else:
        engine = url_or_engine
    try:
        async with engine.connect() as conn:
            if write:
                await conn.execution_options(immediate=True)  # BEGIN IMMEDIATE on SQLite
            async with conn.begin():
                return await conn.run_sync(work)
    finally:
        if engine is not url_or_engine:
            await engine.dispose()


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _adopt_unversioned(connection: Connection, config: Config) -> None:
    if _current(connection) is not None:
        return
    present = BASELINE_TABLES & set(inspect(connection).get_table_names())
    if present == BASELINE_TABLES:
        command.stamp(config, BASELINE_REVISION)
    elif present:
        missing = sorted(BASELINE_TABLES - present)
        raise SchemaMismatch(
            f"the shard has some of the hub's tables but no migration version (missing {missing})"
        )


async def upgrade_shard(url_or_engine: str | AsyncEngine, revision: str = "head") -> str | None:
    """Bring one shard to `revision` (idempotent) and return the revision it is at afterwards."""

    def work(connection: Connection) -> str | None:
        _lock(connection)
        config = make_config(connection)
        _adopt_unversioned(connection, config)
        command.upgrade(config, revision)
        return _current(connection)

    return await _in_transaction(url_or_engine, work, write=True)


async def downgrade_shard(url_or_engine: str | AsyncEngine, revision: str) -> str | None:
    """Take one shard back to `revision` ("base" drops every table). For operators and tests."""

    def work(connection: Connection) -> str | None:
        _lock(connection)
        command.downgrade(make_config(connection), revision)
        return _current(connection)

    return await _in_transaction(url_or_engine, work, write=True)


async def current_revision(engine: str | AsyncEngine) -> str | None:
    """The revision a shard is at; None for a shard no migration has touched."""
    return await _in_transaction(engine, _current, write=False)


async def schema_drift(engine: str | AsyncEngine) -> list[Any]:
    """Alembic's autogenerate diff between the shard and the code's metadata; empty when they match.

    Non-empty after a migrated upgrade means schema.py changed without a migration.
    """

    def work(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, target_metadata()))

    return await _in_transaction(engine, work, write=False)
