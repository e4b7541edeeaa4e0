"""Batches are atomic: one bad row rejects the batch with every bad row reported, and nothing is
written in any region; replays are idempotent; a batch may span regions."""

from __future__ import annotations

import base64
from typing import Any

from gateway_hub import Hub, count_rows

PUBLISH_MANY = """mutation($input: [SignedRecordInput!]!) {
  publishRecords(input: $input) { recordId region leafIndex replayed }
}"""


def rows(hub: Hub, n: int, **changes: Any) -> list[dict[str, str]]:
    return [
        hub.signed_input(hub.record(period=f"{2026 + i // 4}-Q{i % 4 + 1}", **changes))
        for i in range(n)
    ]


async def test_a_batch_lands_whole_in_each_home_region(
    hub: Hub, region_urls: dict[str, str]
) -> None:
    batch = (
        rows(hub, 5)
        + rows(hub, 3, installation_country="DE")
        + rows(hub, 2, installation_country="CN")
    )
    body = await hub.gql(PUBLISH_MANY, input=batch)
    assert "errors" not in body, body
    published = body["data"]["publishRecords"]
    assert [p["region"] for p in published] == ["row"] * 5 + ["eu"] * 3 + ["cn"] * 2
    # leaves 0-2: the registration, installation and product line
    assert [p["leafIndex"] for p in published[:5]] == [3, 4, 5, 6, 7]
    assert not any(p["replayed"] for p in published)
    assert await count_rows(region_urls["row"], "records") == 5
    assert await count_rows(region_urls["eu"], "records") == 3
    assert await count_rows(region_urls["cn"], "records") == 2


async def test_one_bad_row_rejects_the_batch_and_every_bad_row_is_reported(
    hub: Hub, region_urls: dict[str, str]
) -> None:
    batch = rows(hub, 6) + rows(hub, 2, installation_country="DE")
    batch[1] = hub.signed_input(hub.record(cn_code="7208", period="2030"))
    batch[3] = {**batch[3], "signature": base64.b64encode(b"\1" * 64).decode()}
    batch[4] = {**batch[4], "signature": "%%%"}
    batch[7] = hub.signed_input(hub.record(installation_country="DE", see_direct=-2))
    body = await hub.gql(PUBLISH_MANY, input=batch)
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "4 of 8 rows are invalid" in error["message"]
    reported = {(p["row"], p["code"], p["field"]) for p in error["extensions"]["problems"]}
    assert reported == {
        (1, "BAD_USER_INPUT", "cnCode"),
        (3, "INVALID_SIGNATURE", "(submission)"),
        (4, "BAD_USER_INPUT", "signature"),
        (7, "BAD_USER_INPUT", "directEmissions.specificEmbeddedEmissionsDirect"),
    }
    for url in region_urls.values():
        assert await count_rows(url, "records") == 0


async def test_replays_are_idempotent_and_never_duplicated(
    hub: Hub, region_urls: dict[str, str]
) -> None:
    first = rows(hub, 3)
    published = (await hub.gql(PUBLISH_MANY, input=first))["data"]["publishRecords"]
    again = first + rows(hub, 1, see_direct=2.5) + [first[0]]
    replayed = (await hub.gql(PUBLISH_MANY, input=again))["data"]["publishRecords"]
    assert [p["replayed"] for p in replayed] == [True, True, True, False, True]
    assert [p["recordId"] for p in replayed[:3]] == [p["recordId"] for p in published]
    assert replayed[4]["recordId"] == published[0]["recordId"]
    assert await count_rows(region_urls["row"], "records") == 4


async def test_the_same_payload_twice_in_one_batch_is_stored_once(
    hub: Hub, region_urls: dict[str, str]
) -> None:
    one = hub.signed_input(hub.record())
    published = (await hub.gql(PUBLISH_MANY, input=[one, one]))["data"]["publishRecords"]
    assert published[0]["recordId"] == published[1]["recordId"]
    assert [p["replayed"] for p in published] == [False, True]
    assert await count_rows(region_urls["row"], "records") == 1


async def test_an_empty_batch_is_refused(hub: Hub) -> None:
    body = await hub.gql(PUBLISH_MANY, input=[])
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
