"""Fixtures of the vault tests: a shard router over fresh databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cbamhub.vault.shards import ShardRouter
from vault_world import World, world_settings


@pytest.fixture
async def world(region_urls: dict[str, str], tmp_path: Path) -> AsyncIterator[World]:
    router = await ShardRouter.open(world_settings(region_urls, tmp_path))
    try:
        yield World(router)
    finally:
        await router.close()
