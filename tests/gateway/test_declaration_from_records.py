"""An importer previews its declaration over HTTP from a hub record: the record's SEE is used and the
declaration lists the commitment of the ledger entry it relied on."""

from __future__ import annotations

import json
from decimal import Decimal

from gateway_hub import Hub

PUBLISH = """mutation($input: SignedRecordInput!) { publishRecord(input: $input) { recordId } }"""
PREVIEW = """query($lines: [ImportLineInput!]!) {
  declarationPreview(lines: $lines, year: 2026) {
    commitments embeddedEmissions lines { lineId basis seeDirect seeIndirect embedded commitment }
  }
}"""


async def test_a_record_backed_line_uses_the_records_figures_and_commitment(hub: Hub) -> None:
    document = hub.record(cn_code="72081000", see_direct=1.5, see_indirect=0.25)
    record_id = (await hub.gql(PUBLISH, input=hub.signed_input(document)))["data"]["publishRecord"][
        "recordId"
    ]
    evidence = json.loads(
        (await hub.gql("query($id: ID!) { record(id: $id) { evidence } }", id=record_id))["data"][
            "record"
        ]["evidence"]
    )
    commitment = json.loads(evidence["entry"])["commitment"]
    line = {
        "lineId": "L1",
        "cnCode": "72081000",
        "netMass": "100",
        "origin": "TR",
        "importDate": "2026-02-10",
        "recordId": record_id,
    }
    body = await hub.gql(PREVIEW, lines=[line])
    assert "errors" not in body, body
    preview = body["data"]["declarationPreview"]
    (result,) = preview["lines"]
    assert Decimal(result["seeDirect"]) == Decimal("1.5")
    # Iron and steel is an Annex II good: only direct emissions count, whatever the record says.
    assert Decimal(result["seeIndirect"]) == 0
    assert Decimal(result["embedded"]) == Decimal("150")
    assert result["commitment"] == commitment
    assert commitment in preview["commitments"]

    unknown = await hub.gql(PREVIEW, lines=[{**line, "recordId": "rec_row_" + "0" * 32}])
    assert unknown["errors"][0]["extensions"]["code"] in {"NOT_FOUND", "BAD_USER_INPUT"}
