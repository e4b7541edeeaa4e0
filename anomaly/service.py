"""The anomaly scorer as a gRPC service (issue 7), with health and reflection.

Stateless and vault-free: it scores the figures in each request with `anomaly.scoring.Scorer`,
so it runs on its own (`cbamhub anomaly-serve`, TLS like the main server), mounted in the hub's
gRPC server (`anomaly_grpc_mount`), or not at all. The hub's ingest calls it through
`anomaly.remote.RemoteScorer`. A route or country without reference figures, or a non-finite
figure, is INVALID_ARGUMENT (never a silent score); an unset optional figure is "not reported".
The model runs on a worker thread, so health checks and other calls are answered meanwhile.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from cbamhub.grpc_tls import server_credentials
from cbamhub.settings import Settings

from .batch_scorer import load_scorer
from .generated import anomaly_pb2, anomaly_pb2_grpc
from .record import DataQualityTier, Methodology, RecordFeatures
from .scoring import Score, Scorer

SERVICE = anomaly_pb2.DESCRIPTOR.services_by_name["AnomalyScoring"].full_name
STREAM_BATCH = 256
MAX_BATCH = 10_000  # records in one ScoreBatch call: bounds one call's memory and CPU


class BadRecord(ValueError):
    pass


def _optional(request: anomaly_pb2.ScoreRequest, name: str) -> float:
    """An optional figure: NaN (missing) when unset, never a zero."""
    return float(getattr(request, name)) if request.HasField(name) else math.nan


def features_of(request: anomaly_pb2.ScoreRequest, scorer: Scorer) -> RecordFeatures:
    who = request.record_id or "(record)"
    try:
        scorer.lookup.cell(request.route, request.country)
        methodology, tier = Methodology(request.methodology), DataQualityTier(request.tier)
    except ValueError as error:
        raise BadRecord(f"{who}: {error}") from None
    optional = {
        name: _optional(request, name)
        for name in ("see_indirect", "electricity_mwh_per_t", "electricity_ef")
    }
    if not math.isfinite(request.see_direct) or any(
        request.HasField(name) and not math.isfinite(v) for name, v in optional.items()
    ):
        raise BadRecord(f"{who}: figures must be finite (leave an unreported one unset)")
    if any(math.isinf(s) for s in request.precursor_shares):
        raise BadRecord(f"{who}: a precursor share is finite or NaN (unknown)")
    return RecordFeatures(
        record_id=request.record_id,
        installation_id=request.installation_id,
        route=request.route,
        country=request.country,
        cn_code=request.cn_code,
        see_direct=request.see_direct,
        see_indirect=optional["see_indirect"],
        electricity_mwh_per_t=optional["electricity_mwh_per_t"],
        electricity_ef=optional["electricity_ef"],
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
        rule_z_direct=s.rule.z_direct,
        rule_expected_direct=s.rule.expected_direct,
    )


class AnomalyScoringService(anomaly_pb2_grpc.AnomalyScoringServicer):
    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer

    async def _score(self, batch: Sequence[RecordFeatures]) -> list[Score]:
        return await asyncio.to_thread(self.scorer.score_batch, batch)

    async def Score(
        self, request: anomaly_pb2.ScoreRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> anomaly_pb2.ScoreReply:
        try:
            features = features_of(request, self.scorer)
        except BadRecord as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return reply_of((await self._score([features]))[0])

    async def ScoreBatch(
        self, request: anomaly_pb2.ScoreBatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> anomaly_pb2.ScoreBatchReply:
        if len(request.records) > MAX_BATCH:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{len(request.records)} records in one batch; at most {MAX_BATCH}",
            )
        try:
            batch = [features_of(r, self.scorer) for r in request.records]
        except BadRecord as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return anomaly_pb2.ScoreBatchReply(scores=[reply_of(s) for s in await self._score(batch)])

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
                for s in await self._score(batch):
                    yield reply_of(s)
                batch = []
        if batch:
            for s in await self._score(batch):
                yield reply_of(s)


def add_scoring_service(server: grpc.aio.Server, scorer: Scorer) -> str:
    """Register AnomalyScoring on ``server`` (its own or the hub's); returns the service name."""
    anomaly_pb2_grpc.add_AnomalyScoringServicer_to_server(AnomalyScoringService(scorer), server)
    return SERVICE


def scorer_from_settings(settings: Settings) -> Scorer:
    """The model the service answers with: anomaly_model_dir/version, anomaly_threshold."""
    return load_scorer(
        settings.anomaly_model_dir, settings.anomaly_model_version, settings.anomaly_threshold
    )


@dataclass
class ScoringServer:
    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    tls: bool
    model_version: str

    async def stop(self, grace: float | None = 1.0) -> None:
        """NOT_SERVING first, so load balancers drain it, then stop."""
        for name in ("", SERVICE):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace)


async def start_scoring_server(
    scorer: Scorer,
    host: str = "127.0.0.1",
    port: int = 0,
    credentials: grpc.ServerCredentials | None = None,
) -> ScoringServer:
    """Serve AnomalyScoring alone, with health checking and reflection; TLS when ``credentials``
    are given (plaintext only for loopback or a mesh that encrypts)."""
    server = grpc.aio.server()
    add_scoring_service(server, scorer)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME),
        server,
    )  # fmt: skip
    address = f"{host}:{port}"
    if credentials is None:
        bound = server.add_insecure_port(address)
    else:
        bound = server.add_secure_port(address, credentials)
    await server.start()
    for name in ("", SERVICE):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    return ScoringServer(server, bound, health, credentials is not None, scorer.model.version)


async def start_scoring_server_from_settings(
    settings: Settings, port: int | None = None
) -> ScoringServer:
    """The stand-alone service as `cbamhub anomaly-serve` runs it: the model of the anomaly_*
    settings on anomaly_grpc_host:anomaly_grpc_port, with the grpc_tls_* TLS of the main server."""
    return await start_scoring_server(
        scorer_from_settings(settings),
        settings.anomaly_grpc_host,
        settings.anomaly_grpc_port if port is None else port,
        server_credentials(settings),
    )
