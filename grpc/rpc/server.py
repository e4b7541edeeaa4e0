"""The gRPC server: CustomsCheck and Registry (and AnomalyScoring when `anomaly_grpc_mount` is
set), standard health checking and server reflection.

Built from one Settings object and a shard router (no module-level state: tests run several
servers in one process). `start_rpc_server` returns a running server bound to its port;
`serve` runs one until cancelled.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
from cbamhub.anomaly.service import add_scoring_service, scorer_from_settings
from cbamhub.jurisdictions.rulebook import Rulebook, load_rulebook
from cbamhub.vault.shards import ShardRouter
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from cbamhub.grpc_tls import server_credentials
from cbamhub.settings import Settings

from .access import CachedPolicy, NoPolicy, RecordPolicy
from .authentication import Authenticator
from .customs_service import CustomsCheckService
from .external_systems import ExternalSystems
from .generated import customs_pb2, customs_pb2_grpc, registry_pb2, registry_pb2_grpc
from .record_access import CachedRecordAccess, RecordAccess, VaultRecordAccess
from .registry_service import RegistryService

CUSTOMS_SERVICE = customs_pb2.DESCRIPTOR.services_by_name["CustomsCheck"].full_name
REGISTRY_SERVICE = registry_pb2.DESCRIPTOR.services_by_name["Registry"].full_name
HUB_SERVICES = (CUSTOMS_SERVICE, REGISTRY_SERVICE)


@dataclass
class RpcServer:
    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    external: ExternalSystems
    tls: bool
    services: tuple[str, ...] = HUB_SERVICES
    """The services served, each with its own health status."""

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def stop(self, grace: float | None = 2.0) -> None:
        """NOT_SERVING first, so load balancers drain it, then stop and close the adapters."""
        for name in ("", *self.services):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace)
        await self.external.close()


async def start_rpc_server(
    settings: Settings,
    router: ShardRouter,
    policy: RecordPolicy | None = None,
    *,
    external: ExternalSystems | None = None,
    records: RecordAccess | None = None,
    rulebook: Rulebook | None = None,
) -> RpcServer:
    # Half the freshness budget for decisions: the policy under them may reuse the grant sets it
    # decided from for the other half (AuthorizerPolicy's grant_cache_seconds), and a revocation
    # must still bite within grpc_read_cache_seconds.
    decisions = CachedPolicy(policy or NoPolicy(), settings.grpc_read_cache_seconds / 2)
    systems = external if external is not None else ExternalSystems.from_settings(settings)
    access = records or CachedRecordAccess(
        VaultRecordAccess(router),
        settings.grpc_read_cache_seconds,
        proof_ttl=settings.grpc_proof_cache_seconds,
    )
    authenticator = Authenticator(router, settings)
    server = grpc.aio.server(
        options=[("grpc.max_concurrent_streams", settings.grpc_max_concurrent_streams)]
    )
    customs_pb2_grpc.add_CustomsCheckServicer_to_server(
        CustomsCheckService(settings, authenticator, decisions, access), server
    )
    registry_pb2_grpc.add_RegistryServicer_to_server(
        RegistryService(
            settings, authenticator, decisions, access, systems, rulebook or load_rulebook()
        ),
        server,
    )
    services: tuple[str, ...] = HUB_SERVICES
    if settings.anomaly_grpc_mount:  # stateless scoring beside the hub's services (decision 0082)
        services += (add_scoring_service(server, scorer_from_settings(settings)),)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (*services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME),
        server,
    )  # fmt: skip
    credentials = server_credentials(settings)
    address = f"{settings.grpc_host}:{settings.grpc_port}"
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    await server.start()
    for name in ("", *services):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RpcServer(server, port, health, systems, credentials is not None, services)


async def serve(
    settings: Settings,
    router: ShardRouter,
    policy: RecordPolicy | None = None,
    *,
    external: ExternalSystems | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the RPC server until `stop` is set (or the task is cancelled), then drain it."""
    running = await start_rpc_server(settings, router, policy, external=external)
    try:
        if stop is None:
            await running.server.wait_for_termination()
        else:
            await stop.wait()
    finally:
        await running.stop()
