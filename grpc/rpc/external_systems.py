"""The hub as a client of external systems: one interface per system, one gRPC adapter each.

Every adapter call has a deadline, goes through its system's circuit breaker, and is retried with
backoff only when idempotent (reads); a declaration submission is sent once. Channels use mutual
TLS when the external CA and the hub's client certificate are configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Protocol

import grpc

from cbamhub.grpc_tls import channel_credentials, open_channel
from cbamhub.settings import Settings

from .generated import external_pb2, external_pb2_grpc
from .resilience import CallPolicy, CircuitBreaker, call_external
from .status import RpcError


@dataclass(frozen=True)
class CustomsLine:
    line_id: str
    cn_code: str
    net_mass: str
    country_of_origin: str
    import_date: str
    installation_id: str
    route: str


@dataclass(frozen=True)
class RegistryReceipt:
    submission_id: str
    state: str
    detail: str
    sha256: str
    updated_at: str


@dataclass(frozen=True)
class AuctionResult:
    day: date
    platform: str
    scheme: str
    cancelled: bool
    clearing_price_eur: Decimal
    volume: Decimal


class CustomsDeclarationsAdapter(Protocol):
    async def import_lines(self, declarant_eori: str, year: int) -> list[CustomsLine]: ...


class RegistryAdapter(Protocol):
    async def submit(
        self, declarant_eori: str, year: int, declaration_id: str, xml: bytes, idempotency_key: str
    ) -> RegistryReceipt: ...

    async def status(self, declarant_eori: str, submission_id: str) -> RegistryReceipt: ...


class PriceFeedAdapter(Protocol):
    async def auctions(self, first: date, last: date) -> list[AuctionResult]: ...


def _receipt(message: external_pb2.RegistryReceipt) -> RegistryReceipt:
    return RegistryReceipt(
        message.submission_id, message.state, message.detail, message.sha256, message.updated_at
    )


class _Adapter:
    def __init__(self, name: str, channel: grpc.aio.Channel, settings: Settings) -> None:
        self.channel = channel
        self.breaker = CircuitBreaker(
            name, settings.external_breaker_failures, settings.external_breaker_reset_seconds
        )
        self.policy = CallPolicy.from_settings(settings)

    async def close(self) -> None:
        await self.channel.close()


class GrpcCustomsDeclarations(_Adapter):
    def __init__(self, channel: grpc.aio.Channel, settings: Settings) -> None:
        super().__init__("the customs declarations system", channel, settings)
        self._stub = external_pb2_grpc.CustomsDeclarationsStub(channel)

    async def import_lines(self, declarant_eori: str, year: int) -> list[CustomsLine]:
        request = external_pb2.ImportLinesRequest(declarant_eori=declarant_eori, year=year)

        async def call(timeout: float) -> external_pb2.ImportLinesResponse:
            response: external_pb2.ImportLinesResponse = await self._stub.ListImportLines(
                request, timeout=timeout
            )
            return response

        response = await call_external(self.breaker, self.policy, call, idempotent=True)
        return [
            CustomsLine(
                x.line_id,
                x.cn_code,
                x.net_mass,
                x.country_of_origin,
                x.import_date,
                x.installation_id,
                x.route,
            )
            for x in response.lines
        ]


class GrpcRegistry(_Adapter):
    def __init__(self, channel: grpc.aio.Channel, settings: Settings) -> None:
        super().__init__("the CBAM registry", channel, settings)
        self._stub = external_pb2_grpc.CbamRegistryStub(channel)

    async def submit(
        self, declarant_eori: str, year: int, declaration_id: str, xml: bytes, idempotency_key: str
    ) -> RegistryReceipt:
        request = external_pb2.RegistrySubmission(
            declarant_eori=declarant_eori,
            year=year,
            declaration_id=declaration_id,
            xml=xml,
            idempotency_key=idempotency_key,
        )

        async def call(timeout: float) -> external_pb2.RegistryReceipt:
            receipt: external_pb2.RegistryReceipt = await self._stub.Submit(
                request, timeout=timeout
            )
            return receipt

        # Not idempotent: a timed-out submission may have arrived; the caller asks its status.
        return _receipt(await call_external(self.breaker, self.policy, call, idempotent=False))

    async def status(self, declarant_eori: str, submission_id: str) -> RegistryReceipt:
        request = external_pb2.RegistryStatusRequest(
            declarant_eori=declarant_eori, submission_id=submission_id
        )

        async def call(timeout: float) -> external_pb2.RegistryReceipt:
            receipt: external_pb2.RegistryReceipt = await self._stub.GetStatus(
                request, timeout=timeout
            )
            return receipt

        return _receipt(await call_external(self.breaker, self.policy, call, idempotent=True))


def _auction(message: external_pb2.Auction) -> AuctionResult:
    try:
        return AuctionResult(
            date.fromisoformat(message.auction_date),
            message.platform,
            message.scheme,
            message.cancelled,
            Decimal(message.clearing_price_eur),
            Decimal(message.volume),
        )
    except (ValueError, InvalidOperation) as error:
        raise RpcError(
            grpc.StatusCode.UNAVAILABLE, f"the auction price feed sent a malformed auction: {error}"
        ) from error


class GrpcPriceFeed(_Adapter):
    def __init__(self, channel: grpc.aio.Channel, settings: Settings) -> None:
        super().__init__("the auction price feed", channel, settings)
        self._stub = external_pb2_grpc.AuctionPriceFeedStub(channel)

    async def auctions(self, first: date, last: date) -> list[AuctionResult]:
        request = external_pb2.AuctionsRequest(
            from_date=first.isoformat(), to_date=last.isoformat()
        )

        async def call(timeout: float) -> external_pb2.AuctionsResponse:
            response: external_pb2.AuctionsResponse = await self._stub.ListAuctions(
                request, timeout=timeout
            )
            return response

        response = await call_external(self.breaker, self.policy, call, idempotent=True)
        return [_auction(a) for a in response.auctions]


@dataclass(frozen=True)
class ExternalSystems:
    """The adapters the RPC door uses; None where the system is not configured."""

    customs: CustomsDeclarationsAdapter | None = None
    registry: RegistryAdapter | None = None
    price_feed: PriceFeedAdapter | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ExternalSystems:
        credentials = channel_credentials(
            settings.external_tls_ca, settings.external_tls_cert, settings.external_tls_key
        )

        def channel(url: str) -> grpc.aio.Channel:
            return open_channel(url, credentials)

        return cls(
            customs=None
            if settings.external_customs_url is None
            else GrpcCustomsDeclarations(channel(settings.external_customs_url), settings),
            registry=None
            if settings.external_registry_url is None
            else GrpcRegistry(channel(settings.external_registry_url), settings),
            price_feed=None
            if settings.external_price_feed_url is None
            else GrpcPriceFeed(channel(settings.external_price_feed_url), settings),
        )

    async def close(self) -> None:
        for adapter in (self.customs, self.registry, self.price_feed):
            if isinstance(adapter, _Adapter):
                await adapter.close()
