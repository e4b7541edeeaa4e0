"""Fail closed and bounded: no policy engine or a failed one is UNAVAILABLE (never an answer), a call
longer than grpc_max_call_seconds is DEADLINE_EXCEEDED whatever the client allows, and the
`cbamhub grpc-serve` entry point serves health and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import grpc
import pytest
from cbamhub.policies.engines import authorizer_from_settings
from cbamhub.rpc.generated import customs_pb2
from cbamhub.rpc.record_policy import AuthorizerPolicy
from cbamhub.rpc.server import start_rpc_server
from cbamhub.vault.shards import ShardRouter
from conftest import rpc_settings
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rpc_supply import supply_chain
from rpc_world import IMPORTER_EORI, World, register


async def _world(tmp_path: Path, policy: bool, **settings: object) -> tuple[World, str]:
    config = rpc_settings(tmp_path, **settings)
    router = await ShardRouter.open(config)
    customs = await register(router, "customs", "DE", "DE000000000000001")
    importer = await register(router, "importer", "DE", IMPORTER_EORI)
    maker = await register(router, "manufacturer", "TR")
    supply = await supply_chain(router, maker)
    record_id = await supply.publish(supply.record())
    await supply.grant(importer)
    if policy:
        authorizer = authorizer_from_settings(config)
        await authorizer.engine.aclose()  # the engine is gone: every decision now fails
        server = await start_rpc_server(config, router, AuthorizerPolicy(authorizer, router))
    else:
        server = await start_rpc_server(config, router)  # no engine at all
    return World(config, router, server, customs, importer, maker), record_id


def _line(record_id: str) -> customs_pb2.DeclarationLine:
    return customs_pb2.DeclarationLine(
        line_id="L1", importer_eori=IMPORTER_EORI, cn_code="72081000", net_mass="1",
        country_of_origin="TR", period="2026-Q1", record_id=record_id,
    )  # fmt: skip


@pytest.mark.parametrize("policy", [False, True], ids=["no policy engine", "engine failed"])
async def test_without_a_decision_customs_gets_unavailable(tmp_path: Path, policy: bool) -> None:
    world, record_id = await _world(tmp_path, policy)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await world.customs_stub(world.customs).CheckLine(_line(record_id), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await world.close()


async def test_the_server_caps_a_call_whatever_the_client_allows(tmp_path: Path) -> None:
    world, record_id = await _world(tmp_path, False, grpc_max_call_seconds=0.000_001)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await world.customs_stub(world.customs).CheckLine(_line(record_id), timeout=30)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        await world.close()


async def test_grpc_serve_answers_health_and_stops_on_sigterm(
    tmp_path: Path, free_port: int
) -> None:
    env = dict(os.environ, CBAMHUB_DATA_DIR=str(tmp_path), CBAMHUB_CREATE_MISSING_KEYS="true")
    code = "from cbamhub.cli_grpc import cmd_grpc_serve; import argparse, sys; "
    code += f"sys.exit(cmd_grpc_serve(argparse.Namespace(port={free_port}, workers=None)))"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), 60)
        assert f":{free_port} (tls=False, pid={process.pid})" in banner.decode()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{free_port}") as channel:
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="cbamhub.customs.v1.CustomsCheck"), timeout=10
            )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
