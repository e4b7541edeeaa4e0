"""Callers are organisations: per-call signed metadata or an mTLS client certificate, else
UNAUTHENTICATED. GetCertificatePrice is the probe: it needs a caller and no record."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cbamhub.rpc.call_signing import CallSigner, timestamp_now
from cbamhub.rpc.generated import registry_pb2, registry_pb2_grpc
from cbamhub.rpc.server import start_rpc_server
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from conftest import rpc_settings
from rpc_certs import TestCA
from rpc_world import World, register

Q1_2026 = registry_pb2.CertificatePriceRequest(import_date="2026-02-10")
METHOD = "/cbamhub.registry.v1.Registry/GetCertificatePrice"


async def test_a_signed_call_is_answered(world: World) -> None:
    price = await world.registry_stub(world.importer).GetCertificatePrice(Q1_2026, timeout=10)
    # rules/eu_cbam.json: certificate_price.2026-Q1 = 75.36, CONFIRMED (cbam_facts.md §2)
    assert (price.period, price.eur_per_certificate, price.status) == (
        "2026-Q1",
        "75.36",
        "CONFIRMED",
    )
    assert (price.window_start, price.window_end) == ("2026-01-01", "2026-03-31")


async def test_an_anonymous_call_is_unauthenticated(world: World) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.registry_stub(None).GetCertificatePrice(Q1_2026, timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def _call_with(
    world: World, metadata: tuple[tuple[str, str | bytes], ...]
) -> grpc.StatusCode:
    stub = registry_pb2_grpc.RegistryStub(world.channel(None))
    try:
        await stub.GetCertificatePrice(Q1_2026, metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_signature_checks(world: World) -> None:
    signer = world.importer.signer
    assert await _call_with(world, signer.metadata(METHOD, Q1_2026)) == grpc.StatusCode.OK
    # the signature covers the request body: another request under it fails
    other = registry_pb2.CertificatePriceRequest(import_date="2026-02-11")
    assert (
        await _call_with(world, signer.metadata(METHOD, other)) == grpc.StatusCode.UNAUTHENTICATED
    )
    # ... and the method
    wrong = signer.metadata("/cbamhub.registry.v1.Registry/GetSubmission", Q1_2026)
    assert await _call_with(world, wrong) == grpc.StatusCode.UNAUTHENTICATED
    # a stale timestamp
    old = (datetime.now(UTC) - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    assert await _call_with(world, signer.metadata(METHOD, Q1_2026, old)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    # a key the organisation never registered
    stranger = CallSigner(world.importer.organisation_id, OrganisationKey.generate())
    assert await _call_with(world, stranger.metadata(METHOD, Q1_2026)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    # an organisation the hub does not know
    ghost = dataclasses.replace(signer, organisation_id="org_eu_" + "0" * 32)
    assert await _call_with(world, ghost.metadata(METHOD, Q1_2026)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    # a forged signature
    forged = tuple(
        (k, b"\x00" * 64 if k.endswith("-bin") else v)
        for k, v in signer.metadata(METHOD, Q1_2026, timestamp_now())
    )
    assert await _call_with(world, forged) == grpc.StatusCode.UNAUTHENTICATED


async def test_mutual_tls_names_the_organisation(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "pki")
    server_cert = ca.issue("localhost", server=True)
    settings = rpc_settings(
        tmp_path,
        grpc_tls_cert=server_cert.cert,
        grpc_tls_key=server_cert.key,
        grpc_tls_client_ca=ca.pem,
        grpc_require_client_cert=True,
    )
    router = await ShardRouter.open(settings)
    importer = await register(router, "importer", "DE", "DE999999999999999")
    server = await start_rpc_server(settings, router)
    assert server.tls
    options = [("grpc.ssl_target_name_override", "localhost")]
    try:
        client = ca.issue(importer.organisation_id, server=False)
        mtls = grpc.ssl_channel_credentials(
            ca.pem.read_bytes(), client.key.read_bytes(), client.cert.read_bytes()
        )
        async with grpc.aio.secure_channel(server.target, mtls, options=options) as channel:
            price = await registry_pb2_grpc.RegistryStub(channel).GetCertificatePrice(
                Q1_2026, timeout=10
            )
            assert price.eur_per_certificate == "75.36"

        # no client certificate: this port requires one, the handshake fails
        tls_only = grpc.ssl_channel_credentials(ca.pem.read_bytes())
        async with grpc.aio.secure_channel(server.target, tls_only, options=options) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await registry_pb2_grpc.RegistryStub(channel).GetCertificatePrice(
                    Q1_2026, timeout=10
                )
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

        # a certificate from another CA does not get through the handshake
        rogue = TestCA(tmp_path / "rogue", "rogue-ca").issue(importer.organisation_id, server=False)
        forged = grpc.ssl_channel_credentials(
            ca.pem.read_bytes(), rogue.key.read_bytes(), rogue.cert.read_bytes()
        )
        async with grpc.aio.secure_channel(server.target, forged, options=options) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await registry_pb2_grpc.RegistryStub(channel).GetCertificatePrice(
                    Q1_2026, timeout=10
                )
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

        # plaintext to a TLS port fails too
        async with grpc.aio.insecure_channel(server.target) as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await registry_pb2_grpc.RegistryStub(channel).GetCertificatePrice(
                    Q1_2026, timeout=5
                )
    finally:
        await server.stop(0)
        await router.close()


async def test_tls_without_client_certificates_takes_signed_calls(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "pki")
    server_cert = ca.issue("localhost", server=True)
    settings = rpc_settings(tmp_path, grpc_tls_cert=server_cert.cert, grpc_tls_key=server_cert.key)
    router = await ShardRouter.open(settings)
    importer = await register(router, "importer", "DE", "DE999999999999998")
    server = await start_rpc_server(settings, router)
    world = World(settings, router, server, importer, importer, importer)
    try:
        tls = grpc.ssl_channel_credentials(ca.pem.read_bytes())
        signed = registry_pb2_grpc.RegistryStub(world.channel(importer, tls))
        assert (await signed.GetCertificatePrice(Q1_2026, timeout=10)).status == "CONFIRMED"
        anonymous = registry_pb2_grpc.RegistryStub(world.channel(None, tls))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await anonymous.GetCertificatePrice(Q1_2026, timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await world.close()
