"""The AnomalyScoring service as the hub uses it: the remote client against a real server on loopback
(plaintext, TLS, mutual TLS), unreported figures on the wire, the service mounted in the hub's main
gRPC server, and `cbamhub anomaly-serve` on its own with TLS, health and reflection.

Figures are TEST INPUTS: synthetic records drawn from the reference bands (anomaly/synthetic.py) with
their injected anomalies; 1.9 tCO2e/t BF-BOF steel sits inside the band 1.6-2.2
(shared/reference/cbam_facts.md §8); 1,900 is a 1000x unit slip.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from cbamhub.anomaly.batch_scorer import InProcessScorer, ScoringUnavailable, load_scorer
from cbamhub.anomaly.features import build_lookup
from cbamhub.anomaly.generated import anomaly_pb2, anomaly_pb2_grpc
from cbamhub.anomaly.record import RecordFeatures
from cbamhub.anomaly.remote import CHUNK, RemoteScorer
from cbamhub.anomaly.service import MAX_BATCH, SERVICE, start_scoring_server
from cbamhub.anomaly.synthetic import generate, to_records
from cbamhub.rpc.server import HUB_SERVICES, start_rpc_server
from cbamhub.vault.shards import ShardRouter
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from rpc_certs import TestCA

from cbamhub.grpc_tls import channel_credentials, server_credentials
from cbamhub.settings import Settings


def _records() -> list[RecordFeatures]:
    """Synthetic records with every kind of anomaly, plus the shapes hub records take: indirect
    figures not reported (NaN), no history, precursor sources of unknown share."""
    data = generate(2_400, seed=11)  # three ScoreBatch chunks of at most CHUNK records
    records = to_records(data, build_lookup(), range(2_400))
    nan = math.nan
    hub_like = [
        replace(records[0], record_id="no-indirect", see_indirect=nan,
                electricity_mwh_per_t=nan, electricity_ef=nan),
        replace(records[1], record_id="no-history", previous_see_direct=None,
                previous_see_indirect=None),
        replace(records[2], record_id="unknown-shares", precursor_shares=(nan, nan)),
        replace(records[3], record_id="slip", see_direct=records[3].see_direct * 1000),
    ]  # fmt: skip
    return records + hub_like


async def test_remote_scores_equal_in_process_scores() -> None:
    scorer = load_scorer(None, None, 0.5)
    server = await start_scoring_server(scorer)
    remote = RemoteScorer(f"127.0.0.1:{server.port}", None, 30.0)
    records = _records()
    try:
        got = await remote.score_batch(records)
    finally:
        await remote.aclose()
        await server.stop()
    expected = await InProcessScorer(scorer).score_batch(records)
    assert len(records) > 2 * CHUNK
    assert got == expected  # probability, flags, reasons, rule: field for field
    assert sum(s.flagged for s in got) > 20 and all(s.reasons for s in got if s.flagged)
    assert got[-1].flagged and got[-1].reasons[0].quantity == "direct"


async def test_tls_and_mutual_tls(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "pki")
    server_cert, client_cert = ca.issue("localhost", server=True), ca.issue("hub", server=False)
    settings = Settings(
        data_dir=tmp_path,
        grpc_tls_cert=server_cert.cert,
        grpc_tls_key=server_cert.key,
        grpc_tls_client_ca=ca.pem,
        grpc_require_client_cert=True,
    )
    server = await start_scoring_server(
        load_scorer(None, None, 0.5), credentials=server_credentials(settings)
    )
    target = f"localhost:{server.port}"
    record = _records()[-1]
    try:
        assert server.tls
        mutual = RemoteScorer(
            target, channel_credentials(ca.pem, client_cert.cert, client_cert.key), 10
        )
        assert (await mutual.score_batch([record]))[0].flagged
        await mutual.aclose()
        for credentials in (None, channel_credentials(ca.pem)):  # plaintext; TLS without a cert
            refused = RemoteScorer(target, credentials, 5)
            with pytest.raises(
                ScoringUnavailable, match=f"remote scorer {target} failed: UNAVAILABLE"
            ):
                await refused.score_batch([record])
            await refused.aclose()
    finally:
        await server.stop()


def _request(**changes: object) -> anomaly_pb2.ScoreRequest:
    fields: dict[str, object] = {
        "record_id": "r", "route": "bf_bof", "country": "India", "cn_code": "72081000",
        "see_direct": 1.9, "methodology": 1, "tier": 2,
    }  # fmt: skip
    fields.update(changes)
    return anomaly_pb2.ScoreRequest(**fields)  # type: ignore[arg-type]


async def test_unreported_figures_are_unset_never_zero_and_bad_input_is_refused() -> None:
    server = await start_scoring_server(load_scorer(None, None, 0.5))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = anomaly_pb2_grpc.AnomalyScoringStub(channel)
            unset = await stub.Score(_request())  # direct only, like Annex II steel
            with_shares = await stub.Score(_request(precursor_shares=[math.nan, math.nan]))
            assert unset.model_version and with_shares.model_version
            zero = await stub.Score(_request(see_indirect=0.0, electricity_mwh_per_t=0.0))
            assert zero.probability != unset.probability  # a reported zero is another record
            too_many = anomaly_pb2.ScoreBatchRequest(records=[_request()] * (MAX_BATCH + 1))
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.ScoreBatch(too_many)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            for bad in (
                _request(see_indirect=math.nan),
                _request(electricity_ef=math.inf),
                _request(precursor_shares=[math.inf]),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await stub.Score(bad)
                assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await server.stop()


def _reflected(target: str) -> set[str]:
    with grpc.insecure_channel(target) as channel:
        return set(ProtoReflectionDescriptorDatabase(channel).get_services())


@pytest.mark.parametrize("mounted", [True, False])
async def test_the_main_server_mounts_the_scoring_service_when_configured(
    tmp_path: Path, mounted: bool
) -> None:
    settings = Settings(  # not conftest.rpc_settings: a `conftest` import is ambiguous across dirs
        data_dir=tmp_path,
        create_missing_keys=True,
        grpc_port=0,
        anomaly_grpc_mount=mounted,
    )
    router = await ShardRouter.open(settings)
    server = await start_rpc_server(settings, router)
    try:
        assert (SERVICE in server.services) is mounted
        assert (SERVICE in await asyncio.to_thread(_reflected, server.target)) is mounted
        async with grpc.aio.insecure_channel(server.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in HUB_SERVICES:
                answer = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
            stub = anomaly_pb2_grpc.AnomalyScoringStub(channel)
            if mounted:
                answer = await health.Check(
                    health_pb2.HealthCheckRequest(service=SERVICE), timeout=5
                )
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
                slip = await stub.Score(_request(see_direct=1900.0), timeout=10)
                assert slip.flagged and slip.reasons[0].quantity == "direct"
            else:
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await stub.Score(_request(), timeout=10)
                assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(grace=0)
        await router.close()


async def test_anomaly_serve_runs_alone_with_tls_and_stops_on_sigterm(
    tmp_path: Path, free_port: int
) -> None:
    ca = TestCA(tmp_path / "pki")
    cert = ca.issue("localhost", server=True)
    env = dict(
        os.environ,
        CBAMHUB_DATA_DIR=str(tmp_path),
        CBAMHUB_ANOMALY_GRPC_PORT=str(free_port),
        CBAMHUB_GRPC_TLS_CERT=str(cert.cert),
        CBAMHUB_GRPC_TLS_KEY=str(cert.key),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cbamhub.cli", "anomaly-serve", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert f"anomaly scoring on 127.0.0.1:{free_port} (tls=True, model " in banner, banner
        remote = RemoteScorer(f"localhost:{free_port}", channel_credentials(ca.pem), 10)
        try:
            [slip] = await remote.score_batch([_records()[-1]])
        finally:
            await remote.aclose()
        assert slip.flagged and slip.model_version in banner
        credentials = grpc.ssl_channel_credentials(ca.pem.read_bytes())
        async with grpc.aio.secure_channel(f"localhost:{free_port}", credentials) as channel:
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=SERVICE), timeout=10
            )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
