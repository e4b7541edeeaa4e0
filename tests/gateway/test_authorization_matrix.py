"""No one reads what no grant allows: every role against records that are theirs, granted, not
granted, revoked and expired, over HTTP with signed requests, asserting exactly what each sees.

The world: manufacturer M with a TR site (region row) and a CN site (region cn), manufacturer M2
with a TR site; importers with a grant on M's TR line (same region / other region / one field only),
without one, with a revoked one and with an expired one; a verifier assigned to M's TR record and
one not assigned; an EU regulator; a customs organisation. Region export rules are the example
configuration in policies/data/regions.json (row lets SEE and data quality leave, not activity data).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cbamhub.gateway.app import create_app
from cbamhub.ledger import DisclosureError, SelectiveDisclosure, verify_disclosure
from gateway_hub import signed_document_input
from gateway_world import (
    FORBIDDEN,
    FULL,
    MASKED,
    RECORD,
    RECORDS,
    World,
    build,
    world_settings,
)


@pytest.fixture
async def world(tmp_path: Path, serve_asgi: Callable[..., str]) -> World:
    settings = world_settings(tmp_path)
    built: dict[str, Any] = {}
    url = serve_asgi(create_app(settings, on_startup=lambda router: build(router, built)))
    wait = (built["expired_at"] - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, wait) + 0.1)  # I_expired's grant has ended
    return World(url, built["orgs"], built["records"])


EXPECTED = {
    #            rTR        rCN        rX
    "M": (FULL, FULL, FORBIDDEN),
    "M2": (FORBIDDEN, FORBIDDEN, FULL),
    "I_row": (FULL, FORBIDDEN, FORBIDDEN),
    "I_eu": (MASKED, FORBIDDEN, FORBIDDEN),
    "I_fields": (MASKED, FORBIDDEN, FORBIDDEN),
    "I_none": (FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "I_revoked": (FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "I_expired": (FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "V": (MASKED, FORBIDDEN, FORBIDDEN),
    "V2": (FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "R": (MASKED, MASKED, MASKED),
    "C": (FORBIDDEN, FORBIDDEN, FORBIDDEN),
}


async def test_every_role_sees_exactly_what_its_grants_allow(world: World) -> None:
    seen = {}
    for name in EXPECTED:
        seen[name] = tuple([(await world.sees(name, r))[0] for r in ("rTR", "rCN", "rX")])
    assert seen == EXPECTED


async def test_lists_hold_exactly_the_readable_records(world: World) -> None:
    ids = {v: k for k, v in world.records.items()}
    for name, expected in EXPECTED.items():
        body = await world.gql(name, RECORDS)
        assert "errors" not in body, (name, body)
        listed = {ids[e["node"]["id"]] for e in body["data"]["records"]["edges"]}
        readable = {
            r for r, seen in zip(("rTR", "rCN", "rX"), expected, strict=True) if seen != FORBIDDEN
        }
        assert listed == readable, name


async def test_a_masked_record_withholds_the_fields_and_everything_that_would_reveal_them(
    world: World,
) -> None:
    _, only_see = await world.sees("I_fields", "rTR")
    assert only_see is not None
    assert only_see["visibleFields"] is not None and "direct_emissions" in only_see["visibleFields"]
    assert only_see["seeDirect"] == 1.9
    assert only_see["seeIndirect"] is None and only_see["methodology"] is None
    assert only_see["productionMethod"] is None and only_see["countryCode"] is None
    for hidden in ("document", "signature", "evidence"):
        assert only_see[hidden] is None
    assert only_see["inclusionProof"]["salt"] is None
    assert only_see["inclusionProof"]["hashes"] is not None  # the public leaf is still provable

    _, abroad = await world.sees("I_eu", "rTR")
    assert abroad is not None
    assert abroad["seeDirect"] == 1.9 and abroad["dataQualityTier"] is not None
    assert abroad["productionMethod"] is None  # activity data does not leave region row

    _, own = await world.sees("M", "rTR")
    assert own is not None and own["document"] is not None and own["inclusionProof"]["salt"]


async def test_a_masked_reader_proves_what_it_sees_from_the_log_entry(world: World) -> None:
    query = """query($id: ID!) { record(id: $id) {
      seeDirect visibleFields disclosure document inclusionProof { entry } } }"""
    record_id = world.records["rTR"]
    masked = (await world.gql("I_fields", query, id=record_id))["data"]["record"]
    own = (await world.gql("M", query, id=record_id))["data"]["record"]
    assert own["disclosure"] is None  # a full reader checks the whole document instead

    disclosure = SelectiveDisclosure.from_json(json.loads(masked["disclosure"]))
    entry = masked["inclusionProof"]["entry"].encode()
    report = verify_disclosure(disclosure, entry)
    signed = json.loads(own["document"])
    assert report.disclosed == {name: signed[name] for name in report.disclosed}
    assert "directEmissions" in report.disclosed and "activityData" in report.withheld
    assert set(report.disclosed) | set(report.withheld) == set(signed)

    changed = json.loads(masked["disclosure"])
    first = sorted(changed["disclosed"])[0]
    changed["disclosed"][first]["value"] = "altered"
    with pytest.raises(DisclosureError):
        verify_disclosure(SelectiveDisclosure.from_json(changed), entry)


QUERIES_AT_A_RECORD = [
    ("query($id: ID!) { a: record(id: $id) { seeDirect } }", "alias"),
    ("query($id: ID!) { ...F } fragment F on Query { record(id: $id) { seeDirect } }", "fragment"),
    ("query($id: ID!) { ... on Query { record(id: $id) { document } } }", "inline fragment"),
    ("query($id: ID!) { record(id: $id) { id } b: record(id: $id) { evidence } }", "twice"),
    ("query($id: ID!) { recordHistory(id: $id) { kind actor } }", "history"),
]


@pytest.mark.parametrize(("query", "why"), QUERIES_AT_A_RECORD)
async def test_no_query_shape_reaches_an_ungranted_record(
    world: World, query: str, why: str
) -> None:
    for name in ("I_none", "I_revoked", "I_expired", "V2", "C", "M2"):
        body = await world.gql(name, query, id=world.records["rTR"])
        assert body.get("data") is None or all(v is None for v in body["data"].values()), (
            name,
            why,
        )
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}, (name, why)


async def test_filters_cannot_widen_a_list_beyond_the_grants(world: World) -> None:
    m2 = world.orgs["M2"][0]
    query = "query($m: String!) { records(filter: {manufacturerId: $m}) { edges { node { id } } } }"
    body = await world.gql("I_row", query, m=m2)
    assert body["data"]["records"]["edges"] == []


async def test_a_revocation_through_graphql_stops_reads_at_once(world: World) -> None:
    assert (await world.sees("I_row", "rTR"))[0] == FULL
    listed = await world.gql("M", "{ grants { id importerId revokedAt } }")
    mine = [g for g in listed["data"]["grants"] if g["importerId"] == world.orgs["I_row"][0]]
    (grant,) = mine
    m_key = world.orgs["M"][1]
    signed = m_key.sign_document({"action": "grant.revoke", "grant": grant["id"]})
    revoked = await world.gql(
        "M",
        "mutation($i: SignedDocumentInput!) { revokeGrant(input: $i) { revokedAt } }",
        i=signed_document_input(signed),
    )
    assert revoked["data"]["revokeGrant"]["revokedAt"] is not None, revoked
    assert (await world.sees("I_row", "rTR"))[0] == FORBIDDEN


async def test_an_organisation_cannot_act_with_another_ones_signed_document(world: World) -> None:
    """I_none replays a grant M signed (e.g. intercepted): refused, whatever the document says."""
    m_id, m_key = world.orgs["M"]
    now = datetime.now(UTC)
    signed = m_key.sign_document(
        {
            "action": "grant.create",
            "manufacturer": m_id,
            "importer": world.orgs["I_none"][0],
            "product_line": "pl_row_00000000000000000000000000000000",
            "purpose": "x",
            "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(days=1)).isoformat(),
        }
    )
    body = await world.gql(
        "I_none",
        "mutation($i: SignedDocumentInput!) { grantAccess(input: $i) { id } }",
        i=signed_document_input(signed),
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "own name" in body["errors"][0]["message"]


async def test_the_manufacturer_sees_who_read_its_records_with_the_request_id(world: World) -> None:
    async with httpx.AsyncClient(timeout=30, auth=world.auth("I_fields")) as client:
        response = await client.post(
            f"{world.url}/graphql",
            json={"query": RECORD, "variables": {"id": world.records["rTR"]}},
            headers={"X-Request-ID": "erp-7"},
        )
    assert response.status_code == 200
    await world.gql("M", RECORD, id=world.records["rTR"])  # its own reads are not logged
    await world.gql("I_none", RECORD, id=world.records["rTR"])  # refused: nothing was read
    body = await world.gql("M", "{ accessLog { recordId readerId requestId fields } }")
    assert body["data"]["accessLog"] == [
        {
            "recordId": world.records["rTR"],
            "readerId": world.orgs["I_fields"][0],
            "requestId": "erp-7",
            "fields": sorted(only_fields(world)),
        }
    ]
    refused = await world.gql("I_row", "{ accessLog { recordId } }")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_every_read_of_one_operation_is_logged_at_the_time_it_was_served(
    world: World,
) -> None:
    before = datetime.now(UTC)
    both = "query($id: ID!) { records(first: 50) { edges { node { id } } } record(id: $id) { id } }"
    body = await world.gql("I_row", both, id=world.records["rTR"])
    served = [e["node"]["id"] for e in body["data"]["records"]["edges"]]
    served.append(body["data"]["record"]["id"])
    after = datetime.now(UTC)
    body = await world.gql("M", "{ accessLog { recordId readerId readAt } }")
    logged = [e for e in body["data"]["accessLog"] if e["readerId"] == world.orgs["I_row"][0]]
    assert sorted(e["recordId"] for e in logged) == sorted(served) == [world.records["rTR"]] * 2
    times = {datetime.fromisoformat(e["readAt"]) for e in logged}
    assert len(times) == 1  # one operation, one time
    assert before <= times.pop() <= after


def only_fields(world: World) -> list[str]:
    """What I_fields is served: its one granted field plus the public identifiers and proof."""
    return [
        "checkpoint", "cn_code", "commitment", "direct_emissions", "id", "inclusion_proof",
        "installation_id", "manufacturer_id", "product_line_id", "published_at", "region",
        "signer_key_id", "status",
    ]  # fmt: skip


async def test_an_importer_lists_its_suppliers_with_the_granted_product_lines(world: World) -> None:
    body = await world.gql(
        "I_row",
        "{ suppliers { organisation { id role } productLines { id } grants { importerId } } }",
    )
    assert "errors" not in body, body
    (supplier,) = body["data"]["suppliers"]
    assert supplier["organisation"] == {"id": world.orgs["M"][0], "role": "manufacturer"}
    assert len(supplier["productLines"]) == 1
    assert supplier["grants"] == [{"importerId": world.orgs["I_row"][0]}]
    for nobody in ("I_none", "I_revoked", "I_expired"):
        assert (await world.gql(nobody, "{ suppliers { organisation { id } } }"))["data"] == {
            "suppliers": []
        }
    refused = await world.gql("M", "{ suppliers { organisation { id } } }")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_verifier_lists_its_assignments_and_is_told_filters_do_not_apply(
    world: World,
) -> None:
    listed = await world.gql("V", RECORDS)
    assert [e["node"]["id"] for e in listed["data"]["records"]["edges"]] == [world.records["rTR"]]
    filtered = await world.gql(
        "V", '{ records(filter: {cnCode: "76011000"}) { edges { node { id } } } }'
    )
    assert filtered["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
