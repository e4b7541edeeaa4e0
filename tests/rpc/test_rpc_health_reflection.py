"""Standard tools work: grpc.health.v1 answers SERVING, reflection lists the services (grpcio's
reflection client and grpcurl), and a stopped server says NOT_SERVING first."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import grpc
from cbamhub.rpc.server import HUB_SERVICES
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from rpc_world import World

EXPECTED = {
    "cbamhub.customs.v1.CustomsCheck",
    "cbamhub.registry.v1.Registry",
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
}


async def test_health_reports_each_service(world: World) -> None:
    stub = health_pb2_grpc.HealthStub(world.channel(None))
    for name in ("", *HUB_SERVICES):
        answer = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    await world.server.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING


def _reflected_services(target: str) -> set[str]:
    with grpc.insecure_channel(target) as channel:
        return set(ProtoReflectionDescriptorDatabase(channel).get_services())


async def test_reflection_lists_the_services(world: World) -> None:
    services = await asyncio.to_thread(_reflected_services, world.server.target)
    assert services == EXPECTED


async def test_grpcurl_lists_and_describes_through_reflection(world: World) -> None:
    grpcurl = shutil.which("grpcurl") or str(Path(sys.executable).parent / "grpcurl")
    listing = await asyncio.create_subprocess_exec(
        grpcurl, "-plaintext", world.server.target, "list",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(listing.communicate(), 30)
    assert listing.returncode == 0, err.decode()
    assert set(out.decode().split()) == EXPECTED
    describe = await asyncio.create_subprocess_exec(
        grpcurl, "-plaintext", world.server.target, "describe", "cbamhub.customs.v1.CustomsCheck",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(describe.communicate(), 30)
    assert describe.returncode == 0, err.decode()
    assert "rpc CheckConsignment ( stream .cbamhub.customs.v1.DeclarationLine )" in out.decode()
