"""The `world` fixture: a hub's shards (SQLite), a customs authority, an importer and a manufacturer
registered with their keys, and the gRPC server on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cbamhub.policies.engines import authorizer_from_settings
from cbamhub.rpc.record_policy import AuthorizerPolicy
from cbamhub.rpc.server import start_rpc_server
from cbamhub.vault.shards import ShardRouter
from rpc_world import IMPORTER_EORI, World, register

from cbamhub.settings import Settings


def rpc_settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        country_regions={"DE": "eu", "FR": "eu", "CN": "cn", "TR": "tr"},
        default_region="row",
        create_missing_keys=True,
        grpc_port=0,
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = rpc_settings(tmp_path)
    router = await ShardRouter.open(settings)
    customs = await register(router, "customs", "DE", "DE000000000000001", "Zoll")
    importer = await register(router, "importer", "DE", IMPORTER_EORI, "Import GmbH")
    manufacturer = await register(router, "manufacturer", "TR", None, "Steel")
    authorizer = authorizer_from_settings(settings)
    policy = AuthorizerPolicy.from_settings(authorizer, router, settings)  # as served
    server = await start_rpc_server(settings, router, policy)
    w = World(settings, router, server, customs, importer, manufacturer)
    yield w
    await w.close()
    await authorizer.engine.aclose()
