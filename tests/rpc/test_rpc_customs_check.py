"""CustomsCheck on verified records: the figures for the line's mass, and a proof that customs checks
itself with the ledger's standalone verifier (cbamhub.ledger.evidence: log key only)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import grpc
import pytest
from cbamhub.ledger.evidence import verify_evidence
from cbamhub.ledger.statements import canonical
from cbamhub.rpc.customs_service import CHECK_CONSIGNMENT
from cbamhub.rpc.evidence_message import record_evidence
from cbamhub.rpc.generated import customs_pb2
from cbamhub.vault.shards import load_log_signer
from rpc_supply import Supply, supply_chain
from rpc_world import IMPORTER_EORI, World, register


def line(**changes: str) -> customs_pb2.DeclarationLine:
    fields = {
        "line_id": "L1",
        "importer_eori": IMPORTER_EORI,
        "cn_code": "7208 10 00",
        "net_mass": "12.5",
        "country_of_origin": "TR",
        "period": "2026-Q1",
    }
    fields.update(changes)
    return customs_pb2.DeclarationLine(**fields)


@pytest.fixture
async def supply(world: World) -> Supply:
    return await supply_chain(world.router, world.manufacturer)


async def test_a_verified_granted_record_answers_with_a_proof(world: World, supply: Supply) -> None:
    document = supply.record(see_direct=1.92)
    record_id = await supply.publish(document)
    await supply.grant(world.importer)
    stub = world.customs_stub(world.customs)

    answer = await stub.CheckLine(line(installation_id=supply.installation.id), timeout=10)
    assert (answer.code, answer.record_id, answer.record_state) == (0, record_id, "verified")
    assert Decimal(answer.see_direct) == Decimal("1.92")
    assert Decimal(answer.see_indirect) == 0  # the record declares none
    assert Decimal(answer.embedded_direct) == Decimal("12.5") * Decimal("1.92")
    assert Decimal(answer.embedded_total) == Decimal("24.000")
    assert answer.quality_tier == "measured"

    # customs checks the answer without trusting the hub: the log's public key is all it needs
    evidence = record_evidence(answer.evidence)
    vkey = load_log_signer(world.settings, "tr").vkey()
    report = verify_evidence(evidence, vkey)
    assert report.origin == world.settings.log_origin("tr")
    assert answer.evidence.document == canonical(document)
    assert answer.evidence.region == "tr"

    # by record id, and by manufacturer instead of installation
    by_id = await stub.CheckLine(line(record_id=record_id), timeout=10)
    by_maker = await stub.CheckLine(
        line(manufacturer_id=supply.manufacturer.organisation_id), timeout=10
    )
    assert by_id.record_id == by_maker.record_id == record_id


async def test_an_altered_answer_fails_the_customs_side_check(world: World, supply: Supply) -> None:
    await supply.publish(supply.record())
    await supply.grant(world.importer)
    answer = await world.customs_stub(world.customs).CheckLine(
        line(installation_id=supply.installation.id), timeout=10
    )
    tampered = customs_pb2.LineCheck()
    tampered.CopyFrom(answer)
    tampered.evidence.document = answer.evidence.document.replace(b"1.92", b"0.92")
    vkey = load_log_signer(world.settings, "tr").vkey()
    with pytest.raises(ValueError, match="altered"):
        verify_evidence(record_evidence(tampered.evidence), vkey)


async def _code(world: World, request: customs_pb2.DeclarationLine) -> grpc.StatusCode:
    try:
        await world.customs_stub(world.customs).CheckLine(request, timeout=10)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_an_unverified_record_is_a_failed_precondition(world: World, supply: Supply) -> None:
    record_id = await supply.publish(supply.record(), verify=False)
    await supply.grant(world.importer)
    assert await _code(world, line(record_id=record_id)) == grpc.StatusCode.FAILED_PRECONDITION


async def test_without_a_grant_customs_is_denied(world: World, supply: Supply) -> None:
    record_id = await supply.publish(supply.record())
    assert await _code(world, line(record_id=record_id)) == grpc.StatusCode.PERMISSION_DENIED
    other = await register(world.router, "importer", "FR", "FR111111111111111", "Other")
    await supply.grant(other)  # a grant to someone else does not help
    assert await _code(world, line(record_id=record_id)) == grpc.StatusCode.PERMISSION_DENIED
    grant_id = await supply.grant(world.importer)
    # the server reuses decisions (denials too) for grpc_read_cache_seconds (1 s)
    await asyncio.sleep(1.1)
    assert await _code(world, line(record_id=record_id)) == grpc.StatusCode.OK
    await supply.revoke(grant_id)
    await asyncio.sleep(1.1)
    assert await _code(world, line(record_id=record_id)) == grpc.StatusCode.PERMISSION_DENIED


async def test_a_line_that_does_not_match_its_record_is_invalid(
    world: World, supply: Supply
) -> None:
    record_id = await supply.publish(supply.record())
    await supply.grant(world.importer)
    wrong_cn = line(record_id=record_id, cn_code="72082500")
    assert await _code(world, wrong_cn) == grpc.StatusCode.INVALID_ARGUMENT
    wrong_origin = line(record_id=record_id, country_of_origin="CN")
    assert await _code(world, wrong_origin) == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_consignment_of_ten_thousand_lines(world: World, supply: Supply) -> None:
    records = [await supply.publish(supply.record(see_direct=1.5 + i / 10)) for i in range(4)]
    await supply.grant(world.importer)
    unverified = await supply.publish(supply.record(see_direct=3.3), verify=False)
    names = [*records, unverified]

    async def lines() -> AsyncIterator[customs_pb2.DeclarationLine]:
        for i in range(10_000):
            yield line(line_id=f"L{i:05d}", record_id=names[i % 5], net_mass=str(1 + i % 7))

    metadata = world.customs.signer.metadata(CHECK_CONSIGNMENT, None)
    started = time.perf_counter()
    call = world.customs_stub(None).CheckConsignment(lines(), metadata=metadata, timeout=120)
    answers = [a async for a in call]
    elapsed = time.perf_counter() - started
    print(f"\n10,000-line consignment: {elapsed:.2f} s, {10_000 / elapsed:,.0f} lines/s")
    assert [a.line_id for a in answers] == [f"L{i:05d}" for i in range(10_000)]
    failed = [a for a in answers if a.code != 0]
    assert len(failed) == 2_000 and {a.record_id for a in failed} == {""}
    assert {a.code for a in failed} == {grpc.StatusCode.FAILED_PRECONDITION.value[0]}
    ok = [a for a in answers if a.code == 0]
    vkey = load_log_signer(world.settings, "tr").vkey()
    for record_id in records:  # customs verifies each distinct proof once
        first = next(a for a in ok if a.record_id == record_id)
        verify_evidence(record_evidence(first.evidence), vkey)
    for a in ok[:50]:
        mass = Decimal(1 + int(a.line_id[1:]) % 7)
        assert Decimal(a.embedded_total) == mass * Decimal(a.see_total)
    assert await call.code() == grpc.StatusCode.OK
