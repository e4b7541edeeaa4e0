"""The hub's client of a remote AnomalyScoring service (`service.py`): a `BatchScorer` over gRPC.

ScoreBatch calls of at most CHUNK records each, sent together, all under the batch's one deadline,
on a channel kept open for the event loop that uses it. Every failure becomes `ScoringUnavailable`
with the scorer's address and the gRPC status in words, which ingest writes into the records'
"unscored" rows: a remote scorer can delay ingest by at most the deadline, never fail it.
Replies are mapped back to `Score` values field for field, so remote and in-process scores of the
same records are equal.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

import grpc

from cbamhub.grpc_tls import channel_credentials, open_channel
from cbamhub.settings import Settings

from .batch_scorer import ScoringUnavailable
from .explain import Reason
from .generated import anomaly_pb2, anomaly_pb2_grpc
from .record import RecordFeatures
from .rule import RuleVerdict
from .scoring import Score

CHUNK = 1_000
"""Records per ScoreBatch call: a few hundred kB each way, far below gRPC's 4 MB message cap."""


def request_of(r: RecordFeatures) -> anomaly_pb2.ScoreRequest:
    """A record as the service takes it; unreported (NaN) figures stay unset."""
    request = anomaly_pb2.ScoreRequest(
        record_id=r.record_id,
        installation_id=r.installation_id,
        route=r.route,
        country=r.country,
        cn_code=r.cn_code,
        see_direct=r.see_direct,
        precursor_shares=r.precursor_shares,
        methodology=int(r.methodology),
        tier=int(r.tier),
        technology_change=r.technology_change,
        copies=r.copies,
    )
    if not math.isnan(r.see_indirect):
        request.see_indirect = r.see_indirect
    if not math.isnan(r.electricity_mwh_per_t):
        request.electricity_mwh_per_t = r.electricity_mwh_per_t
    if not math.isnan(r.electricity_ef):
        request.electricity_ef = r.electricity_ef
    if r.previous_see_direct is not None:
        request.previous_see_direct = r.previous_see_direct
    if r.previous_see_indirect is not None:
        request.previous_see_indirect = r.previous_see_indirect
    return request


def score_of(reply: anomaly_pb2.ScoreReply) -> Score:
    return Score(
        record_id=reply.record_id,
        model_version=reply.model_version,
        probability=reply.probability,
        flagged=reply.flagged,
        reasons=tuple(Reason(r.feature, r.quantity, r.contribution, r.text) for r in reply.reasons),
        rule=RuleVerdict(
            reply.rule_flagged, reply.rule_z_direct, reply.rule_expected_direct, reply.rule_text
        ),
    )


class RemoteScorer:
    """Scores on the AnomalyScoring service at ``target``; the model version is the server's."""

    def __init__(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None,
        deadline_seconds: float,
    ) -> None:
        self.target = target
        self.credentials = credentials
        self.deadline_seconds = deadline_seconds
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteScorer:
        if not settings.anomaly_scorer_url:
            raise ValueError("anomaly_scorer_url is not set: score in process instead")
        return cls(
            settings.anomaly_scorer_url,
            channel_credentials(
                settings.anomaly_scorer_tls_ca,
                settings.anomaly_scorer_tls_cert,
                settings.anomaly_scorer_tls_key,
            ),
            settings.anomaly_scorer_deadline_seconds,
        )

    @property
    def description(self) -> str:
        return f"remote scorer {self.target}"

    def _stub(self) -> anomaly_pb2_grpc.AnomalyScoringStub:
        """The channel of the running loop (an aio channel belongs to the loop that made it)."""
        loop = asyncio.get_running_loop()
        if self._channel is None or self._loop is not loop:
            self._channel = open_channel(self.target, self.credentials)
            self._loop = loop
        return anomaly_pb2_grpc.AnomalyScoringStub(self._channel)

    async def score_batch(self, records: Sequence[RecordFeatures]) -> list[Score]:
        if not records:
            return []
        requests = [request_of(r) for r in records]
        stub = self._stub()
        calls = [
            stub.ScoreBatch(
                anomaly_pb2.ScoreBatchRequest(records=requests[i : i + CHUNK]),
                timeout=self.deadline_seconds,
            )
            for i in range(0, len(requests), CHUNK)
        ]
        try:
            async with asyncio.timeout(self.deadline_seconds):  # the whole batch, every chunk
                replies = await asyncio.gather(*calls)
        except grpc.aio.AioRpcError as error:
            raise ScoringUnavailable(self._why(error)) from error
        except TimeoutError as error:
            raise ScoringUnavailable(self._late()) from error
        finally:
            for call in calls:  # one failed chunk ends the others
                call.cancel()
        scores = [s for reply in replies for s in reply.scores]
        sent = [r.record_id for r in requests]
        if [s.record_id for s in scores] != sent:
            raise ScoringUnavailable(
                f"{self.description} answered {len(scores)} scores for {len(sent)} records, "
                "not one per record in order"
            )
        return [score_of(s) for s in scores]

    def _late(self) -> str:
        seconds = f"{self.deadline_seconds:g} s"
        return f"{self.description} did not answer within {seconds} (DEADLINE_EXCEEDED)"

    def _why(self, error: grpc.aio.AioRpcError) -> str:
        code = error.code()
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return self._late()
        return f"{self.description} failed: {code.name}: {error.details()}"

    async def aclose(self) -> None:
        if self._channel is not None:
            channel, self._channel, self._loop = self._channel, None, None
            await channel.close()
