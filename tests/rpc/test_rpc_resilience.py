"""The adapters' call discipline against a real (simulated) gRPC price feed: a deadline on every
call, retries with backoff for idempotent calls only, and a circuit breaker that stops calling a
failing system and lets one trial call through after its reset time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import grpc
import pytest
from cbamhub.rpc.external_systems import GrpcPriceFeed
from cbamhub.rpc.generated import external_pb2_grpc
from cbamhub.rpc.resilience import CallPolicy, CircuitBreaker
from cbamhub.rpc.status import RpcError
from conftest import rpc_settings
from rpc_external_sims import SimPriceFeed, serve_sim

Q2 = (date(2026, 4, 1), date(2026, 6, 30))


@pytest.fixture
async def feed(tmp_path: Path) -> AsyncIterator[tuple[SimPriceFeed, GrpcPriceFeed]]:
    sim = SimPriceFeed([])
    server, target = await serve_sim(external_pb2_grpc.add_AuctionPriceFeedServicer_to_server, sim)
    settings = rpc_settings(
        tmp_path,
        external_deadline_seconds=0.3,
        external_retry_attempts=3,
        external_retry_base_seconds=0.01,
        external_breaker_failures=4,
        external_breaker_reset_seconds=0.5,
    )
    adapter = GrpcPriceFeed(grpc.aio.insecure_channel(target), settings)
    yield sim, adapter
    await adapter.close()
    await server.stop(0)


async def test_a_stalled_system_meets_the_deadline_on_every_try(
    feed: tuple[SimPriceFeed, GrpcPriceFeed],
) -> None:
    sim, adapter = feed
    sim.behaviour.delay_seconds = 2.0
    with pytest.raises(RpcError) as caught:
        await adapter.auctions(*Q2)
    assert caught.value.status == grpc.StatusCode.DEADLINE_EXCEEDED
    assert sim.behaviour.calls == 3


async def test_a_refusal_is_the_answer_not_retried(
    feed: tuple[SimPriceFeed, GrpcPriceFeed],
) -> None:
    sim, adapter = feed
    sim.behaviour.fail_with = [grpc.StatusCode.INVALID_ARGUMENT]
    with pytest.raises(RpcError) as caught:
        await adapter.auctions(*Q2)
    assert caught.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert sim.behaviour.calls == 1
    assert adapter.breaker.state == "closed"


async def test_the_breaker_opens_then_lets_one_trial_through(
    feed: tuple[SimPriceFeed, GrpcPriceFeed],
) -> None:
    sim, adapter = feed
    sim.behaviour.fail_with = [grpc.StatusCode.UNAVAILABLE] * 4
    with pytest.raises(RpcError):
        await adapter.auctions(*Q2)  # 3 tries
    with pytest.raises(RpcError):
        await adapter.auctions(*Q2)  # the 4th failure opens the circuit; no more tries
    assert adapter.breaker.state == "open" and sim.behaviour.calls == 4
    with pytest.raises(RpcError, match="circuit open") as caught:
        await adapter.auctions(*Q2)
    assert caught.value.status == grpc.StatusCode.UNAVAILABLE
    assert sim.behaviour.calls == 4  # refused without calling
    await asyncio.sleep(0.6)
    assert adapter.breaker.state == "half-open"
    assert await adapter.auctions(*Q2) == []  # the trial call succeeds and closes it
    assert adapter.breaker.state == "closed" and sim.behaviour.calls == 5


def test_backoff_doubles_with_full_jitter() -> None:
    policy = CallPolicy(deadline_seconds=1.0, attempts=4, backoff_base_seconds=0.1)
    assert [policy.backoff(n, rand=lambda: 1.0) for n in range(3)] == [0.1, 0.2, 0.4]
    assert policy.backoff(2, rand=lambda: 0.0) == 0.0


def test_a_half_open_breaker_allows_a_single_trial() -> None:
    now = [0.0]
    breaker = CircuitBreaker("system", failures=1, reset_seconds=10, clock=lambda: now[0])
    breaker.failed()
    with pytest.raises(RpcError):
        breaker.before_call()
    now[0] = 10.0
    breaker.before_call()  # the trial
    with pytest.raises(RpcError):
        breaker.before_call()  # a second caller while the trial runs
    breaker.failed()
    assert breaker.state == "open"
