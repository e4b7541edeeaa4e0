"""CustomsCheck answers every failure with its own status: unary as the call's status, streamed as
the line's `code` while the other lines go on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from cbamhub.rpc.customs_service import CHECK_CONSIGNMENT
from cbamhub.rpc.generated import customs_pb2
from rpc_world import IMPORTER_EORI, Member, World


def line(**changes: str) -> customs_pb2.DeclarationLine:
    fields = {
        "line_id": "L1",
        "importer_eori": IMPORTER_EORI,
        "cn_code": "72081000",
        "net_mass": "12.5",
        "country_of_origin": "TR",
        "installation_id": "TR-IST-001",
        "period": "2026-Q1",
    }
    fields.update(changes)
    return customs_pb2.DeclarationLine(**fields)


async def requests(
    lines: list[customs_pb2.DeclarationLine],
) -> AsyncIterator[customs_pb2.DeclarationLine]:
    for x in lines:
        yield x


def stream(world: World, member: Member, lines: list[customs_pb2.DeclarationLine]) -> Any:
    """A signed consignment stream (metadata signed up front: the body is the channel's to protect)."""
    stub = world.customs_stub(None)
    metadata = member.signer.metadata(CHECK_CONSIGNMENT, None)
    return stub.CheckConsignment(requests(lines), metadata=metadata, timeout=10)


async def _status(world: World, request: customs_pb2.DeclarationLine) -> grpc.StatusCode:
    try:
        await world.customs_stub(world.customs).CheckLine(request, timeout=10)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"cn_code": "7208"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"net_mass": "-1"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"net_mass": "NaN"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"country_of_origin": "TUR"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"period": "2026-Q5"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"installation_id": ""}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"importer_eori": "FR000000000000000"}, grpc.StatusCode.NOT_FOUND),
        ({}, grpc.StatusCode.NOT_FOUND),  # no record for the line
        ({"record_id": "rec_tr_" + "a" * 32}, grpc.StatusCode.NOT_FOUND),
        ({"record_id": "not-an-id"}, grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_unary_status(
    world: World, changes: dict[str, str], expected: grpc.StatusCode
) -> None:
    assert await _status(world, line(**changes)) == expected


async def test_only_customs_organisations_check(world: World) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.customs_stub(world.importer).CheckLine(line(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "customs" in (caught.value.details() or "")


async def test_a_stream_answers_each_line_in_order(world: World) -> None:
    lines = [
        line(line_id="a", cn_code="1"),
        line(line_id="b"),
        line(line_id="c", importer_eori="FR000000000000000"),
    ]
    call = stream(world, world.customs, lines)
    answers = [a async for a in call]
    assert [a.line_id for a in answers] == ["a", "b", "c"]
    codes = [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.NOT_FOUND]
    assert [a.code for a in answers] == [c.value[0] for c in codes]
    assert all(a.message for a in answers)
    assert await call.code() == grpc.StatusCode.OK


async def test_a_stream_of_a_non_customs_caller_fails_as_a_whole(world: World) -> None:
    call = stream(world, world.importer, [line()])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        _ = [a async for a in call]
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_expired_deadline_is_deadline_exceeded(world: World) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.customs_stub(world.customs).CheckLine(line(), timeout=0.000_001)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
