"""Simulated external systems: real grpcio servers on loopback behind the contracts of
proto/external.proto (the only simulated parts of the RPC tests). Each counts its calls and can be
told to fail or stall, so the adapters' deadlines, retries and circuit breakers are exercised."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from cbamhub.rpc.generated import external_pb2, external_pb2_grpc


@dataclass
class Behaviour:
    calls: int = 0
    fail_with: list[grpc.StatusCode] = field(default_factory=list)
    """Statuses for the next calls, one each, before answering normally."""
    delay_seconds: float = 0.0

    async def enter(self, context: Any) -> None:
        self.calls += 1
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.fail_with:
            await context.abort(self.fail_with.pop(0), "simulated failure")


class SimPriceFeed(external_pb2_grpc.AuctionPriceFeedServicer):
    def __init__(self, auctions: list[external_pb2.Auction]) -> None:
        self.auctions = auctions
        self.behaviour = Behaviour()

    async def ListAuctions(self, request: Any, context: Any) -> external_pb2.AuctionsResponse:
        await self.behaviour.enter(context)
        found = [a for a in self.auctions if request.from_date <= a.auction_date <= request.to_date]
        return external_pb2.AuctionsResponse(auctions=found)


class SimRegistry(external_pb2_grpc.CbamRegistryServicer):
    def __init__(self) -> None:
        self.submissions: dict[str, tuple[str, external_pb2.RegistryReceipt]] = {}
        self.behaviour = Behaviour()

    async def Submit(self, request: Any, context: Any) -> external_pb2.RegistryReceipt:
        await self.behaviour.enter(context)
        if request.idempotency_key in self.submissions:
            return self.submissions[request.idempotency_key][1]
        receipt = external_pb2.RegistryReceipt(
            submission_id=f"SUB-{len(self.submissions) + 1:04d}",
            state="RECEIVED",
            detail=f"declaration {request.declaration_id} for {request.year} received",
            sha256=hashlib.sha256(request.xml).hexdigest(),
            updated_at="2026-11-23T10:00:00Z",
        )
        self.submissions[request.idempotency_key] = (request.declarant_eori, receipt)
        return receipt

    async def GetStatus(self, request: Any, context: Any) -> external_pb2.RegistryReceipt:
        await self.behaviour.enter(context)
        for eori, receipt in self.submissions.values():
            if receipt.submission_id == request.submission_id and eori == request.declarant_eori:
                return receipt
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such submission of this declarant")
        raise AssertionError  # unreachable


class SimCustoms(external_pb2_grpc.CustomsDeclarationsServicer):
    def __init__(self, lines: dict[tuple[str, int], list[external_pb2.CustomsImportLine]]) -> None:
        self.lines = lines
        self.behaviour = Behaviour()

    async def ListImportLines(self, request: Any, context: Any) -> external_pb2.ImportLinesResponse:
        await self.behaviour.enter(context)
        return external_pb2.ImportLinesResponse(
            lines=self.lines.get((request.declarant_eori, request.year), [])
        )


async def serve_sim(
    add: Callable[[Any, grpc.aio.Server], None],
    servicer: Any,
    credentials: grpc.ServerCredentials | None = None,
) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    add(servicer, server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    return server, f"localhost:{port}"
