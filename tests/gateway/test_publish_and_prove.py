"""The walking skeleton, end to end over HTTP on SQLite and PostgreSQL shards: a manufacturer signs a
record on its side, publishes it through GraphQL, the hub stores it in its home region's shard and log,
and a reader gets it back with evidence that `cbamhub verify` checks offline."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
from cbamhub.vault.signing import OrganisationKey
from gateway_hub import Hub, count_rows

PUBLISH = """mutation($input: SignedRecordInput!) {
  publishRecord(input: $input) { recordId region leafIndex treeSize checkpoint }
}"""
RECORD = """query($id: ID!) {
  record(id: $id) { id region cnCode seeDirect seeIndirect evidence
    inclusionProof { leafIndex treeSize hashes final checkpoint } }
}"""


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cbamhub.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_published_record_comes_back_with_evidence_that_verifies_offline(hub: Hub) -> None:
    body = await hub.gql(PUBLISH, input=hub.signed_input(hub.record()))
    assert "errors" not in body, body
    published = body["data"]["publishRecord"]
    assert published["region"] == "row"  # TR is not in this hub's country table
    # leaves 0-2: the manufacturer's registration, its TR installation and product line
    assert published["leafIndex"] == 3
    assert published["treeSize"] == 4
    assert published["checkpoint"].startswith(f"{hub.settings.log_origin('row')}\n4\n")

    body = await hub.gql(RECORD, id=published["recordId"])
    record = body["data"]["record"]
    assert record["cnCode"] == "72081000" and record["seeDirect"] == 1.92
    assert record["inclusionProof"]["leafIndex"] == 3

    ok = run_cli("verify", "-", "--log-key", hub.vkey("row"), stdin=record["evidence"])
    assert ok.returncode == 0, ok.stderr
    assert "record.published" in ok.stdout

    wrong_log = run_cli("verify", "-", "--log-key", hub.vkey("eu"), stdin=record["evidence"])
    assert wrong_log.returncode == 1
    assert "NOT VERIFIED" in wrong_log.stderr


async def test_altered_figures_in_the_evidence_are_detected(hub: Hub) -> None:
    published = (await hub.gql(PUBLISH, input=hub.signed_input(hub.record())))["data"][
        "publishRecord"
    ]
    evidence = json.loads(
        (await hub.gql(RECORD, id=published["recordId"]))["data"]["record"]["evidence"]
    )
    evidence["document"]["see_direct"] = 0.5  # a lower figure, to pay less
    result = run_cli("verify", "-", "--log-key", hub.vkey("row"), stdin=json.dumps(evidence))
    assert result.returncode == 1
    assert "document was altered" in result.stderr


async def test_records_land_only_in_their_home_region(
    hub: Hub, region_urls: dict[str, str]
) -> None:
    for country, region in (("DE", "eu"), ("CN", "cn"), ("FR", "eu"), ("TR", "row")):
        document = hub.record(installation_country=country)
        published = (await hub.gql(PUBLISH, input=hub.signed_input(document)))["data"][
            "publishRecord"
        ]
        assert published["region"] == region
    assert await count_rows(region_urls["eu"], "records") == 2
    assert await count_rows(region_urls["cn"], "records") == 1
    assert await count_rows(region_urls["row"], "records") == 1


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (
            lambda hub, i: {**i, "signature": base64.b64encode(b"\0" * 64).decode()},
            "INVALID_SIGNATURE",
        ),
        (
            lambda hub, i: {**i, "payload": i["payload"].replace("1.92", "0.92")},
            "INVALID_SIGNATURE",
        ),
        (lambda hub, i: hub.signed_input(hub.record(), OrganisationKey.generate()), "UNKNOWN_KEY"),
        (lambda hub, i: {**i, "signature": "not base64!"}, "BAD_USER_INPUT"),
        (lambda hub, i: {**i, "payload": "{not json"}, "BAD_USER_INPUT"),
        (lambda hub, i: {**i, "payload": " " + i["payload"]}, "BAD_USER_INPUT"),
        (lambda hub, i: hub.signed_input(hub.record(cn_code="7208")), "BAD_USER_INPUT"),
        (lambda hub, i: hub.signed_input(hub.record(see_direct=-1)), "BAD_USER_INPUT"),
        (lambda hub, i: hub.signed_input(hub.record(unexpected=1)), "BAD_USER_INPUT"),
        (lambda hub, i: hub.signed_input(hub.record(manufacturer_id="nobody")), "BAD_USER_INPUT"),
    ],
    ids=[
        "forged-signature",
        "payload-changed-after-signing",
        "unknown-key",
        "signature-not-base64",
        "payload-not-json",
        "payload-not-canonical",
        "bad-cn-code",
        "negative-emissions",
        "unknown-field",
        "malformed-manufacturer-id",
    ],
)
async def test_bad_submissions_get_a_typed_error_and_write_nothing(
    hub: Hub, region_urls: dict[str, str], mutate: Any, code: str
) -> None:
    before = {r: await count_rows(u, "ledger_checkpoints") for r, u in region_urls.items()}
    body = await hub.gql(PUBLISH, input=mutate(hub, hub.signed_input(hub.record())))
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    for region, url in region_urls.items():
        assert await count_rows(url, "records") == 0
        assert await count_rows(url, "ledger_checkpoints") == before[region]


async def test_bad_input_lists_every_problem(hub: Hub) -> None:
    body = await hub.gql(
        PUBLISH, input=hub.signed_input(hub.record(cn_code="x", period="Q1", see_indirect="a lot"))
    )
    problems = body["errors"][0]["extensions"]["problems"]
    assert {p["field"] for p in problems} >= {
        "cnCode",
        "activityData.referencePeriodStart",
        "activityData.referencePeriodEnd",
        "indirectEmissions.specificEmbeddedEmissionsIndirect",
    }


async def test_a_replayed_submission_is_refused_and_points_to_the_original(
    hub: Hub, region_urls: dict[str, str]
) -> None:
    signed = hub.signed_input(hub.record())
    first = (await hub.gql(PUBLISH, input=signed))["data"]["publishRecord"]
    replay = await hub.gql(PUBLISH, input=signed)
    error = replay["errors"][0]
    assert error["extensions"]["code"] == "DUPLICATE_SUBMISSION"
    assert error["extensions"]["recordId"] == first["recordId"]
    assert await count_rows(region_urls["row"], "records") == 1


async def test_unknown_record_and_region_are_not_found(hub: Hub) -> None:
    missing = await hub.gql(RECORD, id="rec_row_" + "0" * 32)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    region = await hub.gql('{ checkpoint(region: "mars") { size } }')
    assert region["errors"][0]["extensions"]["code"] == "UNKNOWN_REGION"


async def test_regulator_checks_consistency_between_two_checkpoints(hub: Hub) -> None:
    from cbamhub.ledger.checkpoint import verify_checkpoint
    from cbamhub.ledger.verify import verify_consistency

    first = (await hub.gql(PUBLISH, input=hub.signed_input(hub.record())))["data"]["publishRecord"]
    second = (await hub.gql(PUBLISH, input=hub.signed_input(hub.record(period="2026-Q2"))))["data"][
        "publishRecord"
    ]
    old = verify_checkpoint(first["checkpoint"], hub.vkey("row")).checkpoint
    new = verify_checkpoint(second["checkpoint"], hub.vkey("row")).checkpoint
    body = await hub.gql(
        'query($a: Long!, $b: Long!) { consistencyProof(region: "row", fromSize: $a, toSize: $b) }',
        a=old.size,
        b=new.size,
    )
    proof = [base64.b64decode(h) for h in body["data"]["consistencyProof"]]
    verify_consistency(old.size, new.size, old.root, new.root, proof)


async def test_the_regions_logs_are_served_as_tiles_an_auditor_can_check(hub: Hub) -> None:
    from cbamhub.ledger.audit import HttpTileSource, audit

    await hub.gql(PUBLISH, input=hub.signed_input(hub.record()))
    async with httpx.AsyncClient() as client:
        checkpoint = await client.get(f"{hub.url}/log/row/checkpoint")
        assert checkpoint.status_code == 200
        assert checkpoint.text.startswith(f"{hub.settings.log_origin('row')}\n4\n")
        assert (await client.get(f"{hub.url}/log/mars/checkpoint")).status_code == 404
    async with HttpTileSource(f"{hub.url}/log/row") as source:
        report = await audit(source, hub.vkey("row"))
    assert report.ok, report.problems
    assert report.size == 4
