"""CustomsCheck on verified records: the figures for the line's mass as the policy lets customs see
them, and a proof customs checks itself with the log's public key alone (RFC 9162 inclusion of the
record's entry under a checkpoint the log signed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import grpc
import pytest
from cbamhub.ledger.statements import Statement, StatementKind
from cbamhub.ledger.verify import VerificationError
from cbamhub.rpc.customs_service import CHECK_CONSIGNMENT
from cbamhub.rpc.evidence_message import record_evidence, verify_entry_inclusion
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

    # customs sees figures and quality, never activity data or location (policies/fields.rego
    # customs_view); the commitment covers the whole document, so document and salt are withheld
    assert list(answer.withheld_fields) == [
        "activityData", "countryCode", "installationCbamId", "operatorCbamId",
        "productionMethod", "unLoCode",
    ]  # fmt: skip
    assert answer.evidence.document == b"" and answer.evidence.salt == b""
    with pytest.raises(ValueError, match="withheld"):
        record_evidence(answer.evidence)
    # what customs checks without trusting the hub, with the log's public key alone: the record's
    # entry is in the log under a checkpoint the log signed
    vkey = load_log_signer(world.settings, "tr").vkey()
    statement = verify_entry_inclusion(answer.evidence, vkey)
    assert statement.kind == StatementKind.RECORD_PUBLISHED
    assert statement.subject["record"] == record_id
    assert answer.evidence.region == "tr"
    stored = await world.server_records_read(record_id)
    assert statement.commitment == Statement.parse(stored.evidence.entry).commitment
    assert stored.document == document

    # by record id, and by manufacturer instead of installation
    by_id = await stub.CheckLine(line(record_id=record_id), timeout=10)
    by_maker = await stub.CheckLine(
        line(manufacturer_id=supply.manufacturer.organisation_id), timeout=10
    )
    assert by_id.record_id == by_maker.record_id == record_id


async def test_an_altered_proof_fails_the_customs_side_check(world: World, supply: Supply) -> None:
    await supply.publish(supply.record())
    await supply.grant(world.importer)
    answer = await world.customs_stub(world.customs).CheckLine(
        line(installation_id=supply.installation.id), timeout=10
    )
    vkey = load_log_signer(world.settings, "tr").vkey()
    verify_entry_inclusion(answer.evidence, vkey)
    entry = customs_pb2.LineCheck()
    entry.CopyFrom(answer)
    entry.evidence.entry = answer.evidence.entry.replace(b"record", b"recurd", 1)
    with pytest.raises(VerificationError, match="does not lead to the root"):
        verify_entry_inclusion(entry.evidence, vkey)
    proof = customs_pb2.LineCheck()
    proof.CopyFrom(answer)
    proof.evidence.leaf_index += 1
    with pytest.raises(VerificationError):
        verify_entry_inclusion(proof.evidence, vkey)
    checkpoint = customs_pb2.LineCheck()
    checkpoint.CopyFrom(answer)
    checkpoint.evidence.checkpoint = answer.evidence.checkpoint.replace("\n", "\n\n", 1)
    with pytest.raises(VerificationError):
        verify_entry_inclusion(checkpoint.evidence, vkey)


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
        assert verify_entry_inclusion(first.evidence, vkey).subject["record"] == record_id
    for a in ok[:50]:
        mass = Decimal(1 + int(a.line_id[1:]) % 7)
        assert Decimal(a.embedded_total) == mass * Decimal(a.see_total)
    assert await call.code() == grpc.StatusCode.OK


async def test_a_grant_that_shares_no_figures_gives_customs_none(
    world: World, supply: Supply
) -> None:
    record_id = await supply.publish(supply.record())
    await supply.grant(world.importer, fields=["dataQualityTier", "methodology"])
    answer = await world.customs_stub(world.customs).CheckLine(
        line(record_id=record_id), timeout=10
    )
    assert answer.code == 0 and answer.quality_tier == "measured"
    assert (answer.see_direct, answer.see_total, answer.embedded_total) == ("", "", "")
    assert "directEmissions" in answer.withheld_fields
