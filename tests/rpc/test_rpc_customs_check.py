"""CustomsCheck on verified records: the figures for the line's mass as the policy lets customs see
them, and a proof customs checks itself with the log's public key alone: RFC 9162 inclusion of the
record's entry under a checkpoint the log signed, and the selective disclosure of the members it may
see against the entry's per-field commitment, from which it recomputes every figure (decision 0055).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import grpc
import pytest
from cbamhub.ledger.disclosure import DisclosureError
from cbamhub.ledger.statements import Statement, StatementKind
from cbamhub.ledger.verify import VerificationError
from cbamhub.rpc.customs_service import CHECK_CONSIGNMENT
from cbamhub.rpc.customs_verification import AnswerMismatch, verify_line_check
from cbamhub.rpc.evidence_message import record_evidence, verify_entry_inclusion
from cbamhub.rpc.generated import customs_pb2
from cbamhub.rpc.record_access import VaultRecordAccess
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
    # customs_view): no document and salt, but the disclosure of the members it may see
    assert list(answer.withheld_fields) == [
        "activityData", "countryCode", "installationCbamId", "operatorCbamId",
        "productionMethod", "unLoCode",
    ]  # fmt: skip
    assert answer.evidence.document == b"" and answer.evidence.salt == b""
    with pytest.raises(ValueError, match="withheld"):
        record_evidence(answer.evidence)
    assert [f.name for f in answer.evidence.disclosure.withheld] == list(answer.withheld_fields)
    # what customs checks without trusting the hub, with the log's public key alone: the entry is in
    # the log, the disclosed members open its per-field commitment, and they give every figure
    vkey = load_log_signer(world.settings, "tr").vkey()
    checked = verify_line_check(answer, line(installation_id=supply.installation.id), vkey)
    assert checked.statement.kind == StatementKind.RECORD_PUBLISHED
    assert checked.statement.subject["record"] == record_id
    assert checked.members["directEmissions"] == {"specificEmbeddedEmissionsDirect": 1.92}
    assert "activityData" not in checked.members and "activityData" in checked.withheld
    assert answer.evidence.region == "tr"
    stored = await world.server_records_read(record_id)
    assert checked.statement == Statement.parse(stored.evidence.entry)
    assert stored.document == document
    # nothing of the withheld members travels, only their digests
    assert b"netMass" not in answer.SerializeToString()
    assert (
        b'"TR"' not in answer.SerializeToString() and b"OPR-TEST" not in answer.SerializeToString()
    )

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


def _altered(
    answer: customs_pb2.LineCheck, change: Callable[[customs_pb2.LineCheck], None]
) -> customs_pb2.LineCheck:
    copy = customs_pb2.LineCheck()
    copy.CopyFrom(answer)
    change(copy)
    return copy


async def test_customs_detects_a_tampered_answer(world: World, supply: Supply) -> None:
    """Whatever the hub (or anything between) changes in a masked answer, customs' own check
    fails: the figures, the disclosed members and their salts, the withheld digests and names, the
    record the answer names, or the evidence of another record."""
    record_id = await supply.publish(supply.record(see_direct=1.92))
    other_id = await supply.publish(supply.record(see_direct=0.92))
    await supply.grant(world.importer)
    stub = world.customs_stub(world.customs)
    request = line(record_id=record_id)
    answer = await stub.CheckLine(request, timeout=10)
    other = await stub.CheckLine(line(record_id=other_id), timeout=10)
    vkey = load_log_signer(world.settings, "tr").vkey()
    verify_line_check(answer, request, vkey)
    verify_line_check(other, line(record_id=other_id), vkey)

    def disclosed(a: customs_pb2.LineCheck, name: str) -> Any:
        return next(f for f in a.evidence.disclosure.disclosed if f.name == name)

    def see(value: bytes) -> Callable[[customs_pb2.LineCheck], None]:
        return lambda a: setattr(disclosed(a, "directEmissions"), "value", value)

    def swap_salts(a: customs_pb2.LineCheck) -> None:
        see_field, tier = disclosed(a, "directEmissions"), disclosed(a, "dataQualityTier")
        see_field.salt, tier.salt = tier.salt, see_field.salt

    def drop_withheld(a: customs_pb2.LineCheck) -> None:
        del a.evidence.disclosure.withheld[0]
        del a.withheld_fields[0]

    def rename_withheld(a: customs_pb2.LineCheck) -> None:
        a.evidence.disclosure.withheld[0].name = "activity"

    def add_member(a: customs_pb2.LineCheck) -> None:
        a.evidence.disclosure.disclosed.add(name="extra", value=b"1", salt=bytes(32))

    def hide_member(a: customs_pb2.LineCheck) -> None:  # claim a disclosed member was withheld
        tier = disclosed(a, "dataQualityTier")
        a.evidence.disclosure.disclosed.remove(tier)
        a.evidence.disclosure.withheld.add(name="dataQualityTier", digest="0" * 64)
        a.withheld_fields.append("dataQualityTier")
        a.quality_tier = ""

    def other_evidence(a: customs_pb2.LineCheck) -> None:
        a.evidence.CopyFrom(other.evidence)

    figures = {
        "see_direct": lambda a: setattr(a, "see_direct", "0.92"),
        "embedded_total": lambda a: setattr(a, "embedded_total", "11.5"),
        "quality_tier": lambda a: setattr(a, "quality_tier", "verifiedMeasured"),
        "withheld list": lambda a: a.withheld_fields.append("methodology"),
        "record id": lambda a: setattr(a, "record_id", other_id),
    }
    disclosure = {
        # the figure changed in the member too, so the answer and the member agree
        "changed SEE": see(b'{"specificEmbeddedEmissionsDirect":0.92}'),
        "SEE given as a string": see(b'{"specificEmbeddedEmissionsDirect":"1.92"}'),
        "swapped salts": swap_salts,
        "dropped withheld digest": drop_withheld,
        "renamed withheld member": rename_withheld,
        "added member": add_member,
        "member hidden": hide_member,
    }
    for cases, error in ((figures, AnswerMismatch), (disclosure, DisclosureError)):
        for what, change in cases.items():
            try:
                verify_line_check(_altered(answer, change), request, vkey)
            except error:
                continue
            pytest.fail(f"not detected as {error.__name__}: {what}")
    # another record's (valid, logged) evidence under this answer's record id and figures
    with pytest.raises(AnswerMismatch, match="record"):
        verify_line_check(_altered(answer, other_evidence), request, vkey)
    # the answer of another line: its CN code is not this record's
    with pytest.raises(AnswerMismatch, match="CN"):
        verify_line_check(answer, line(record_id=record_id, cn_code="72082500"), vkey)
    # a different mass: the embedded figures are not the answer's
    with pytest.raises(AnswerMismatch, match="embedded"):
        verify_line_check(answer, line(record_id=record_id, net_mass="13"), vkey)


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
    sent = {f"L{i:05d}": line(record_id=names[i % 5], net_mass=str(1 + i % 7)) for i in range(60)}
    for record_id in records:  # customs verifies each distinct proof (and disclosure) once
        first = next(a for a in ok if a.record_id == record_id)
        assert verify_line_check(first, sent[first.line_id], vkey).statement.subject["record"] == (
            record_id
        )
    for a in ok[:50]:
        mass = Decimal(1 + int(a.line_id[1:]) % 7)
        assert Decimal(a.embedded_total) == mass * Decimal(a.see_total)
        request = line(line_id=a.line_id, record_id=a.record_id, net_mass=str(mass))
        verify_line_check(a, request, vkey)  # every line's figures follow from its disclosure
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
    # a narrower view has its own disclosure, which customs verifies just the same: the tier it is
    # shown is the record's, and no figure is claimed
    vkey = load_log_signer(world.settings, "tr").vkey()
    checked = verify_line_check(answer, line(record_id=record_id), vkey)
    assert set(checked.members) == {"cnCode", "dataQualityTier", "methodology"} | {
        "manufacturerId", "installationId", "productLineId"
    }  # fmt: skip
    forged = customs_pb2.LineCheck()
    forged.CopyFrom(answer)
    forged.see_direct = "1.92"  # a figure the disclosure does not give
    with pytest.raises(AnswerMismatch, match="see_direct"):
        verify_line_check(forged, line(record_id=record_id), vkey)


async def test_a_records_proof_is_reused_while_the_log_grows(world: World, supply: Supply) -> None:
    # grpc_proof_cache_seconds (10 s): a record never changes, so the server keeps it with its proof
    # beyond grpc_read_cache_seconds (1 s); the older proof still verifies against its checkpoint
    record_id = await supply.publish(supply.record(see_direct=1.92))
    await supply.grant(world.importer)
    stub = world.customs_stub(world.customs)
    first = await stub.CheckLine(line(record_id=record_id), timeout=10)
    await supply.publish(supply.record(see_direct=2.5))  # the log grows past the first proof
    await asyncio.sleep(1.1)
    again = await stub.CheckLine(line(record_id=record_id), timeout=10)
    assert again.evidence.tree_size == first.evidence.tree_size
    vkey = load_log_signer(world.settings, "tr").vkey()
    verify_line_check(again, line(record_id=record_id), vkey)
    fresh = VaultRecordAccess(world.router)  # what a re-read would have answered
    assert (await fresh.read(record_id)).evidence.tree_size > first.evidence.tree_size
