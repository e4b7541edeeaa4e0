"""Registry: declarations built by the jurisdiction modules and submitted to a CBAM registry,
certificate prices (rule data, else the auction feed's volume-weighted average), Art. 9 evidence.
The registry, customs and auction systems are real gRPC servers on loopback, reached over mutual TLS.
Auction prices and volumes below are TEST INPUTS, not market data."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from cbamhub.jurisdictions.documents import validate
from cbamhub.ledger.disclosure import DisclosureError
from cbamhub.ledger.evidence import verify_evidence
from cbamhub.ledger.statements import Statement
from cbamhub.policies.engines import authorizer_from_settings
from cbamhub.rpc.evidence_message import record_evidence, verify_disclosed
from cbamhub.rpc.generated import external_pb2, external_pb2_grpc, registry_pb2
from cbamhub.rpc.record_policy import AuthorizerPolicy
from cbamhub.rpc.registry_service import carbon_price_items
from cbamhub.rpc.server import start_rpc_server
from cbamhub.vault.shards import ShardRouter
from conftest import rpc_settings
from rpc_certs import TestCA
from rpc_external_sims import SimCustoms, SimPriceFeed, SimRegistry, serve_sim
from rpc_supply import supply_chain
from rpc_world import IMPORTER_EORI, World, register


def auction(
    day: str, price: str, volume: str, scheme: str = "ETS1", cancelled: bool = False
) -> external_pb2.Auction:
    return external_pb2.Auction(
        auction_date=day, platform="EEX", scheme=scheme, cancelled=cancelled,
        clearing_price_eur=price, volume=volume,
    )  # fmt: skip


AUCTIONS = [
    auction("2026-04-07", "70.00", "3000000"),
    auction("2026-05-12", "80.00", "1000000"),
    auction("2026-06-30", "90.00", "2000000"),
    auction("2026-05-13", "50.00", "5000000", scheme="ETS2"),  # not counted: ETS2
    auction("2026-05-14", "10.00", "9000000", cancelled=True),  # not counted: cancelled
    auction("2026-07-01", "100.00", "1000000"),  # Q3
]


@dataclass
class Systems:
    world: World
    feed: SimPriceFeed
    registry: SimRegistry
    customs: SimCustoms


@pytest.fixture
async def systems(tmp_path: Path) -> AsyncIterator[Systems]:
    ca = TestCA(tmp_path / "pki")
    server_cert = ca.issue("localhost", server=True)
    hub_cert = ca.issue("cbam-data-hub", server=False)
    external_tls = grpc.ssl_server_credentials(
        [(server_cert.key.read_bytes(), server_cert.cert.read_bytes())],
        root_certificates=ca.pem.read_bytes(),
        require_client_auth=True,  # mutual TLS: the hub proves itself to the external systems
    )
    feed, registry = SimPriceFeed(AUCTIONS), SimRegistry()
    customs = SimCustoms(
        {
            (IMPORTER_EORI, 2026): [
                external_pb2.CustomsImportLine(
                    line_id="C1", cn_code="72081000", net_mass="40", country_of_origin="TR",
                    import_date="2026-02-03",
                ),
                external_pb2.CustomsImportLine(
                    line_id="C2", cn_code="76011000", net_mass="5", country_of_origin="CN",
                    import_date="2026-03-09",
                ),
            ]
        }
    )  # fmt: skip
    servers = [
        await serve_sim(
            external_pb2_grpc.add_AuctionPriceFeedServicer_to_server, feed, external_tls
        ),
        await serve_sim(
            external_pb2_grpc.add_CbamRegistryServicer_to_server, registry, external_tls
        ),
        await serve_sim(
            external_pb2_grpc.add_CustomsDeclarationsServicer_to_server, customs, external_tls
        ),
    ]
    settings = rpc_settings(
        tmp_path,
        external_price_feed_url=servers[0][1],
        external_registry_url=servers[1][1],
        external_customs_url=servers[2][1],
        external_tls_ca=ca.pem,
        external_tls_cert=hub_cert.cert,
        external_tls_key=hub_cert.key,
        external_retry_base_seconds=0.01,
        external_breaker_failures=10,
    )
    router = await ShardRouter.open(settings)
    customs_org = await register(router, "customs", "DE", "DE000000000000001")
    importer = await register(router, "importer", "DE", IMPORTER_EORI)
    manufacturer = await register(router, "manufacturer", "TR")
    authorizer = authorizer_from_settings(settings)
    server = await start_rpc_server(settings, router, AuthorizerPolicy(authorizer, router))
    world = World(settings, router, server, customs_org, importer, manufacturer)
    yield Systems(world, feed, registry, customs)
    await world.close()
    await authorizer.engine.aclose()
    for sim, _ in servers:
        await sim.stop(0)


async def price(systems: Systems, day: str) -> registry_pb2.CertificatePrice:
    stub = systems.world.registry_stub(systems.world.importer)
    return await stub.GetCertificatePrice(
        registry_pb2.CertificatePriceRequest(import_date=day), timeout=10
    )


async def test_a_price_in_the_rule_data_is_not_asked_of_the_feed(systems: Systems) -> None:
    answer = await price(systems, "2026-03-31")
    assert (answer.eur_per_certificate, answer.status) == ("75.36", "CONFIRMED")
    assert systems.feed.behaviour.calls == 0


async def test_a_missing_quarterly_price_is_the_volume_weighted_auction_average(
    systems: Systems,
) -> None:
    answer = await price(systems, "2026-05-20")
    assert answer.period == "2026-Q2" and answer.status == "COMPUTED"
    assert (answer.window_start, answer.window_end) == ("2026-04-01", "2026-06-30")
    # (70 x 3M + 80 x 1M + 90 x 2M) / 6M; the ETS2, cancelled and July auctions do not count
    assert Decimal(answer.eur_per_certificate) == Decimal(470) / Decimal(6)
    assert answer.auctions == 3


async def test_a_price_whose_window_is_open_is_not_published(systems: Systems) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await price(systems, "2090-03-07")  # weekly from 2027: still in the future
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await price(systems, "2025-12-31")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert systems.feed.behaviour.calls == 0


async def test_the_feed_is_retried_then_reported_unavailable(systems: Systems) -> None:
    systems.feed.behaviour.fail_with = [grpc.StatusCode.UNAVAILABLE]
    assert (await price(systems, "2026-05-20")).status == "COMPUTED"
    assert systems.feed.behaviour.calls == 2  # one failure, one retry
    systems.feed.behaviour.fail_with = [grpc.StatusCode.UNAVAILABLE] * 3
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await price(systems, "2026-05-20")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert systems.feed.behaviour.calls == 5  # external_retry_attempts = 3


async def test_prepare_and_submit_a_declaration(systems: Systems) -> None:
    world = systems.world
    supply = await supply_chain(world.router, world.manufacturer)
    record_id = await supply.publish(supply.record(see_direct=1.92))
    await supply.grant(world.importer)
    stub = world.registry_stub(world.importer)
    request = registry_pb2.PrepareDeclarationRequest(
        year=2026,
        declaration_id="decl-test-1",
        lines=[
            registry_pb2.ImportLine(
                line_id="A", cn_code="72081000", net_mass="40", country_of_origin="TR",
                import_date="2026-02-03", record_id=record_id,
            ),
            registry_pb2.ImportLine(
                line_id="B", cn_code="76011000", net_mass="30", country_of_origin="CN",
                import_date="2026-03-09",
            ),
        ],
    )  # fmt: skip
    prepared = await stub.PrepareDeclaration(request, timeout=30)
    validate(prepared.xml)
    assert prepared.sha256 == hashlib.sha256(prepared.xml).hexdigest()
    assert prepared.declarant_eori == IMPORTER_EORI and prepared.lines == 2
    stored_commitment = Statement.parse(
        (await world.server_records_read(record_id)).evidence.entry
    ).commitment
    assert list(prepared.commitments) == [stored_commitment]
    # the record's verified SEE is used: 40 t x 1.92 for line A (test inputs)
    assert b"76.8" in prepared.xml

    submitted = await stub.SubmitDeclaration(
        registry_pb2.SubmitDeclarationRequest(
            year=2026, declaration_id="decl-test-1", xml=prepared.xml, idempotency_key="k-1"
        ),
        timeout=30,
    )
    assert submitted.state == registry_pb2.RECEIVED and submitted.sha256 == prepared.sha256
    again = await stub.SubmitDeclaration(
        registry_pb2.SubmitDeclarationRequest(
            year=2026, declaration_id="decl-test-1", xml=prepared.xml, idempotency_key="k-1"
        ),
        timeout=30,
    )
    assert again.submission_id == submitted.submission_id
    status = await stub.GetSubmission(
        registry_pb2.GetSubmissionRequest(submission_id=submitted.submission_id), timeout=10
    )
    assert status.state == registry_pb2.RECEIVED


async def test_lines_can_come_from_the_customs_system(systems: Systems) -> None:
    stub = systems.world.registry_stub(systems.world.importer)
    prepared = await stub.PrepareDeclaration(
        registry_pb2.PrepareDeclarationRequest(year=2026, lines_from_customs=True), timeout=30
    )
    assert prepared.lines == 2 and systems.customs.behaviour.calls == 1
    validate(prepared.xml)


async def test_submission_refusals(systems: Systems) -> None:
    world = systems.world
    request = registry_pb2.SubmitDeclarationRequest(
        year=2026, declaration_id="d", xml=b"<not-a-declaration/>", idempotency_key="k"
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.registry_stub(world.customs).SubmitDeclaration(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.registry_stub(world.importer).SubmitDeclaration(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert systems.registry.behaviour.calls == 0


async def test_a_failed_submission_is_not_retried(systems: Systems) -> None:
    stub = systems.world.registry_stub(systems.world.importer)
    prepared = await stub.PrepareDeclaration(
        registry_pb2.PrepareDeclarationRequest(year=2026, lines_from_customs=True), timeout=30
    )
    systems.registry.behaviour.fail_with = [grpc.StatusCode.UNAVAILABLE]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SubmitDeclaration(
            registry_pb2.SubmitDeclarationRequest(
                year=2026, declaration_id=prepared.declaration_id, xml=prepared.xml,
                idempotency_key="k-2",
            ),
            timeout=30,
        )  # fmt: skip
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert systems.registry.behaviour.calls == 1
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetSubmission(
            registry_pb2.GetSubmissionRequest(submission_id="SUB-9"), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_carbon_price_paid_evidence_under_the_read_policy(systems: Systems) -> None:
    world = systems.world
    supply = await supply_chain(world.router, world.manufacturer)
    paid = {
        "typeOfInstrument": "01",
        "independentPersonId": {"key": "Verifier registry", "value": "V-1"},
        "descriptionAndIndicationOfLegalAct": "TEST INPUT carbon tax act",
        "amountOfCarbonPricePaid": 1200.0,
        "currency": "TRY",
        "countryCode": "TR",
    }
    record_id = await supply.publish(supply.record(carbonPricePaid=[paid]))
    request = registry_pb2.CarbonPricePaidRequest(record_id=record_id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # no grant yet
        await world.registry_stub(world.importer).GetCarbonPricePaid(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    own = await world.registry_stub(world.manufacturer).GetCarbonPricePaid(request, timeout=10)
    assert [(i.amount, i.currency, i.independent_person) for i in own.items] == [
        ("1200.0", "TRY", "Verifier registry=V-1")
    ]
    vkey = world.server_log_vkey("tr")
    verify_evidence(record_evidence(own.evidence), vkey)
    await supply.grant(world.importer)  # every field: the importer can check the figures itself
    await asyncio.sleep(1.1)  # the earlier denial is reused for grpc_read_cache_seconds
    granted = await world.registry_stub(world.importer).GetCarbonPricePaid(request, timeout=10)
    assert list(granted.withheld_fields) == [] and granted.items == own.items
    verify_evidence(record_evidence(granted.evidence), vkey)
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # customs check lines, they do not read
        await world.registry_stub(world.customs).GetCarbonPricePaid(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # an importer whose grant covers the carbon price paid but not the activity data: no document,
    # but the disclosure of its fields, from which it recomputes the items itself (decision 0055)
    narrow = await register(world.router, "importer", "FR", "FR111111111111111", "Narrow")
    await supply.grant(narrow, fields=["carbonPricePaid", "directEmissions"])
    masked = await world.registry_stub(narrow).GetCarbonPricePaid(request, timeout=10)
    assert masked.items == own.items and "activityData" in masked.withheld_fields
    assert masked.evidence.document == b"" and masked.evidence.salt == b""
    report = verify_disclosed(masked.evidence, vkey)
    assert report.statement.subject["record"] == record_id
    assert sorted(report.withheld) == sorted(masked.withheld_fields)
    assert carbon_price_items(report.disclosed["carbonPricePaid"]) == list(masked.items)
    # an altered amount in the member no longer opens the log entry's per-field commitment
    forged = registry_pb2.CarbonPricePaidEvidence()
    forged.CopyFrom(masked)
    member = next(f for f in forged.evidence.disclosure.disclosed if f.name == "carbonPricePaid")
    member.value = member.value.replace(b"1200", b"2400")
    with pytest.raises(DisclosureError, match="do not open"):
        verify_disclosed(forged.evidence, vkey)
