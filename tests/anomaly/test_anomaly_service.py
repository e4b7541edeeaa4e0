"""The anomaly scorer as its own gRPC service, on loopback: one record, a stream, bad input,
health and reflection. Figures are TEST INPUTS: 1.9 tCO2e/t BF-BOF steel sits inside the reference
band 1.6-2.2 (shared/reference/cbam_facts.md §8); 1,900 is a 1000x unit slip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from cbamhub.anomaly.generated import anomaly_pb2, anomaly_pb2_grpc
from cbamhub.anomaly.scoring import Scorer
from cbamhub.anomaly.service import SERVICE, ScoringServer, start_scoring_server
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


def _request(
    record_id: str, direct: float, route: str = "bf_bof", country: str = "India"
) -> anomaly_pb2.ScoreRequest:
    return anomaly_pb2.ScoreRequest(
        record_id=record_id,
        installation_id=f"ins-{record_id}",
        route=route,
        country=country,
        cn_code="72081000",
        see_direct=direct,
        see_indirect=0.21,
        electricity_mwh_per_t=0.3,
        electricity_ef=0.71,
        precursor_shares=[1.0],
        methodology=1,
        tier=2,
    )


@pytest.fixture
async def scoring() -> AsyncIterator[ScoringServer]:
    server = await start_scoring_server(Scorer())
    try:
        yield server
    finally:
        await server.stop()


async def test_one_record_is_scored_and_a_unit_slip_explained(scoring: ScoringServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{scoring.port}") as channel:
        stub = anomaly_pb2_grpc.AnomalyScoringStub(channel)
        calm = await stub.Score(_request("calm", 1.9))
        slip = await stub.Score(_request("slip", 1900.0))
    assert not calm.flagged and list(calm.reasons) == [] and not calm.rule_flagged
    assert slip.flagged and slip.rule_flagged and slip.model_version
    assert slip.reasons[0].quantity == "direct"


async def test_a_stream_is_answered_in_order(scoring: ScoringServer) -> None:
    requests = [_request(f"r{i}", 1900.0 if i % 7 == 0 else 1.8 + i / 1000) for i in range(300)]

    async def gen() -> AsyncIterator[anomaly_pb2.ScoreRequest]:
        for r in requests:
            yield r

    async with grpc.aio.insecure_channel(f"127.0.0.1:{scoring.port}") as channel:
        stub = anomaly_pb2_grpc.AnomalyScoringStub(channel)
        replies = [r async for r in stub.ScoreStream(gen())]
    assert [r.record_id for r in replies] == [r.record_id for r in requests]
    assert [r.flagged for r in replies] == [i % 7 == 0 for i in range(300)]


@pytest.mark.parametrize(
    "bad",
    [
        _request("x", 1.9, route="dri_eaf"),
        _request("y", float("nan")),
        _request("z", 1.9, country="Germany"),
    ],
)
async def test_bad_input_is_invalid_argument(
    scoring: ScoringServer, bad: anomaly_pb2.ScoreRequest
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{scoring.port}") as channel:
        stub = anomaly_pb2_grpc.AnomalyScoringStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Score(bad)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_health_and_reflection(scoring: ScoringServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{scoring.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)

        async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        names = [
            s.name
            async for answer in stub.ServerReflectionInfo(ask())
            for s in answer.list_services_response.service
        ]
    assert SERVICE in names
