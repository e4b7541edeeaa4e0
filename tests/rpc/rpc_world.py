"""A hub for RPC tests: shards, registered organisations with their keys, and a running gRPC server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from cbamhub.rpc.call_signing import CallSigner
from cbamhub.rpc.generated import customs_pb2_grpc, registry_pb2_grpc
from cbamhub.rpc.server import RpcServer
from cbamhub.vault import identities
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from google.protobuf.message import Message

from cbamhub.settings import Settings

IMPORTER_EORI = "DE123456789012345"


@dataclass
class Member:
    organisation_id: str
    key: OrganisationKey

    @property
    def signer(self) -> CallSigner:
        return CallSigner(self.organisation_id, self.key)


async def register(
    router: ShardRouter, role: str, country: str, eori: str | None = None, name: str = "Org"
) -> Member:
    key = OrganisationKey.generate()
    org = OrganisationIn(role=role, legal_name=f"{name} {role}", country=country, eori=eori)
    return Member(await identities.register_organisation(router, org, key.public_key), key)


class SigningInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Signs every unary call of a channel as `member` (the client side of per-call signed
    metadata). Streams pass their signed metadata themselves (grpcio's aio stream interceptors
    failed with "Internal error from Core" here)."""

    def __init__(self, member: Member) -> None:
        self._signer = member.signer

    def _details(self, details: Any, request: Message | None) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        metadata = list(details.metadata or ()) + list(self._signer.metadata(method, request))
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details, request), request)


@dataclass
class World:
    settings: Settings
    router: ShardRouter
    server: RpcServer
    customs: Member
    importer: Member
    manufacturer: Member
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def channel(
        self, member: Member | None, credentials: grpc.ChannelCredentials | None = None
    ) -> grpc.aio.Channel:
        interceptors: Sequence[Any] = [SigningInterceptor(member)] if member else []
        target = self.server.target
        if credentials is None:
            channel = grpc.aio.insecure_channel(target, interceptors=interceptors)
        else:
            channel = grpc.aio.secure_channel(
                target,
                credentials,
                interceptors=interceptors,
                options=[("grpc.ssl_target_name_override", "localhost")],
            )
        self.channels.append(channel)
        return channel

    def customs_stub(self, member: Member | None) -> customs_pb2_grpc.CustomsCheckStub:
        return customs_pb2_grpc.CustomsCheckStub(self.channel(member))

    def registry_stub(self, member: Member | None) -> registry_pb2_grpc.RegistryStub:
        return registry_pb2_grpc.RegistryStub(self.channel(member))

    async def server_records_read(self, record_id: str) -> Any:
        """The record with its proof as the vault reads it (for expected values)."""
        from cbamhub.vault.reading import record_with_proof

        return await record_with_proof(self.router, record_id)

    def server_log_vkey(self, region: str) -> str:
        from cbamhub.vault.shards import load_log_signer

        return load_log_signer(self.settings, region).vkey()

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
        await self.server.stop(0)
        await self.router.close()
