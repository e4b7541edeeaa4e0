"""The anomaly scorer as a gRPC service of its own (issue 7), with health and reflection.

Stateless and vault-free: it scores the figures in each request with `anomaly.scoring.Scorer`,
so it can run beside the hub or on another machine. A route or country without reference figures,
or a non-finite figure, is INVALID_ARGUMENT (never a silent score).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
from cbamhub.anomaly.record import DataQualityTier, Methodology, RecordFeatures
from cbamhub.anomaly.scoring import Score, Scorer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from .generated import anomaly_pb2, anomaly_pb2_grpc

SERVICE = anomaly_pb2.DESCRIPTOR.services_by_name["AnomalyScoring"].full_name
STREAM_BATCH = 256


class BadRecord(ValueError):
    pass


def features_of(request: anomaly_pb2.ScoreRequest, scorer: Scorer) -> RecordFeatures:
    try:
        scorer.lookup.cell(request.route, request.country)
        methodology, tier = Methodology(request.methodology), DataQualityTier(request.tier)
    except ValueError as error:
        raise BadRecord(f"{request.record_id or '(record)'}: {error}") from None
    if not all(math.isfinite(v) for v in (request.see_direct, request.see_indirect)):
        raise BadRecord(f"{request.record_id or '(record)'}: emissions must be finite")
    return RecordFeatures(
        record_id=request.record_id,
        installation_id=request.installation_id,
        route=request.route,
        country=request.country,
        cn_code=request.cn_code,
        see_direct=request.see_direct,
        see_indirect=request.see_indirect,
        electricity_mwh_per_t=request.electricity_mwh_per_t,
        electricity_ef=request.electricity_ef,
        precursor_shares=tuple(request.precursor_shares),
        methodology=methodology,
        tier=tier,
        previous_see_direct=request.previous_see_direct
        if request.HasField("previous_see_direct")
        else None,
        previous_see_indirect=request.previous_see_indirect
        if request.HasField("previous_see_indirect")
        else None,
        technology_change=request.technology_change,
        copies=request.copies,
    )


def reply_of(s: Score) -> anomaly_pb2.ScoreReply:
    return anomaly_pb2.ScoreReply(
        record_id=s.record_id,
        model_version=s.model_version,
        probability=s.probability,
        flagged=s.flagged,
        reasons=[
            anomaly_pb2.Reason(
                feature=r.feature, quantity=r.quantity, contribution=r.contribution, text=r.text
            )
            for r in s.reasons
        ],
        rule_flagged=s.rule.flagged,
        rule_text=s.rule.text,
    )


class AnomalyScoringService(anomaly_pb2_grpc.AnomalyScoringServicer):
    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer

    async def Score(
        self, request: anomaly_pb2.ScoreRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> anomaly_pb2.ScoreReply:
        try:
            features = features_of(request, self.scorer)
        except BadRecord as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return reply_of(self.scorer.score(features))

    async def ScoreStream(
        self,
        request_iterator: AsyncIterator[anomaly_pb2.ScoreRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[anomaly_pb2.ScoreReply]:
        batch: list[RecordFeatures] = []
        async for request in request_iterator:
            try:
                batch.append(features_of(request, self.scorer))
            except BadRecord as error:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            if len(batch) == STREAM_BATCH:
                for s in self.scorer.score_batch(batch):
                    yield reply_of(s)
                batch = []
        for s in self.scorer.score_batch(batch):
            yield reply_of(s)


@dataclass
class ScoringServer:
    server: grpc.aio.Server
    port: int

    async def stop(self) -> None:
        await self.server.stop(grace=1)


async def start_scoring_server(
    scorer: Scorer, host: str = "127.0.0.1", port: int = 0
) -> ScoringServer:
    """Serve AnomalyScoring with health checking and reflection (insecure: loopback or a mesh)."""
    server = grpc.aio.server()
    anomaly_pb2_grpc.add_AnomalyScoringServicer_to_server(AnomalyScoringService(scorer), server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME),
        server,
    )  # fmt: skip
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    for name in ("", SERVICE):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    return ScoringServer(server, bound)
