"""Per-shard schema migrations (Alembic), on SQLite and PostgreSQL.

`test_migrated_schema_matches_the_code` is the guard: change vault/schema.py or ledger/schema.py without
adding a migration and it fails, naming the difference.
"""

from __future__ import annotations

import argparse
import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cbamhub.ledger import schema as ledger_schema
from cbamhub.ledger.storage import create_engine, create_tables
from cbamhub.vault import migrate
from cbamhub.vault import schema as vault_schema
from cbamhub.vault.migrate import (
    BASELINE_TABLES,
    SchemaMismatch,
    current_revision,
    downgrade_shard,
    head_revision,
    schema_drift,
    target_metadata,
    upgrade_shard,
)
from sqlalchemy import Column, Text, inspect
from sqlalchemy.engine import Connection

from cbamhub.cli_db import register

EXPECTED_TABLES = set(vault_schema.metadata.tables) | set(ledger_schema.metadata.tables)


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


async def _table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_upgrade_creates_every_table_and_is_idempotent(database_url: str) -> None:
    assert await current_revision(database_url) is None
    assert await upgrade_shard(database_url) == head_revision()
    assert await _table_names(database_url) == EXPECTED_TABLES
    assert BASELINE_TABLES <= EXPECTED_TABLES

    engine = create_engine(database_url)  # an engine the caller owns stays usable
    try:
        assert await upgrade_shard(engine) == head_revision()
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == EXPECTED_TABLES
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_the_code(database_url: str) -> None:
    await upgrade_shard(database_url)
    engine = create_engine(database_url)
    try:

        def diff(conn: Connection) -> list[object]:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, target_metadata()))

        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == [], (
        "the schema in code differs from the migrated one: add a revision under "
        f"vault/migrations/versions ({changes})"
    )
    assert await schema_drift(database_url) == []


async def test_a_schema_change_without_a_migration_is_drift(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard above is not vacuous: a column added in code but in no revision shows up."""
    await upgrade_shard(database_url)
    changed = target_metadata()
    changed.tables["records"].append_column(Column("origin_country", Text))
    monkeypatch.setattr(migrate, "target_metadata", lambda: changed)
    drift = await schema_drift(database_url)
    assert [(c[0], c[2], c[3].name) for c in drift] == [("add_column", "records", "origin_country")]


async def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    await upgrade_shard(database_url)
    assert await downgrade_shard(database_url, "base") is None
    assert await _table_names(database_url) == set()
    assert await upgrade_shard(database_url) == head_revision()
    assert await _table_names(database_url) == EXPECTED_TABLES
    assert await schema_drift(database_url) == []


async def test_a_shard_made_by_create_all_is_adopted(database_url: str) -> None:
    """Shards created before migrations existed are stamped at the baseline, not re-created."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(vault_schema.metadata.create_all)
        await create_tables(engine)
        assert await upgrade_shard(engine) == head_revision()
        assert await schema_drift(engine) == []
    finally:
        await engine.dispose()


async def test_a_half_made_shard_is_refused(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await create_tables(engine)  # the log's tables only
    finally:
        await engine.dispose()
    with pytest.raises(SchemaMismatch):
        await upgrade_shard(database_url)
    assert await current_revision(database_url) is None


async def test_concurrent_upgrades_apply_once(database_url: str) -> None:
    revisions = await asyncio.gather(*(upgrade_shard(database_url) for _ in range(3)))
    assert revisions == [head_revision()] * 3
    assert await _table_names(database_url) == EXPECTED_TABLES


def _cli(argv: list[str]) -> int:
    top = argparse.ArgumentParser(prog="cbamhub")
    register(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(argv)
    code: int = args.func(args)
    return code


def test_cli_upgrades_every_region(
    region_urls: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("CBAMHUB_CONFIG_FILE", raising=False)
    for region, url in region_urls.items():
        monkeypatch.setenv(f"CBAMHUB_REGIONS__{region.upper()}", url)
    monkeypatch.setenv("CBAMHUB_COUNTRY_REGIONS", '{"DE": "eu", "CN": "cn"}')
    head = head_revision()

    assert _cli(["db", "current"]) == 1  # nothing migrated yet
    assert capsys.readouterr().out.splitlines() == [f"{r}\tnone" for r in region_urls]

    assert _cli(["db", "upgrade", "--region", "cn"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"cn\t{head}"]

    assert _cli(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{r}\t{head}" for r in region_urls]
    assert _cli(["db", "current"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{r}\t{head}" for r in region_urls]
    assert _cli(["db", "check"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{r}\tok" for r in region_urls]

    assert _cli(["db", "upgrade", "--region", "mars"]) == 2
    assert "no shard for region 'mars'" in capsys.readouterr().err

    for url in region_urls.values():
        assert asyncio.run(_table_names(url)) == EXPECTED_TABLES
