"""The Catena-X CBAM KIT response message and the client-side signed batch."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cbamhub.ledger.statements import canonical
from cbamhub.vault.formats.catenax import RESPONSE_CONTEXT, parse_response, to_response
from cbamhub.vault.formats.signed import parse_signed_jsonl, sign_batch, write_signed_jsonl
from cbamhub.vault.record_model import EmissionsRecord, parse_record, record_document
from cbamhub.vault.signing import OrganisationKey, signature_valid
from hypothesis import given, settings
from hypothesis import strategies as st
from vault_samples import SAMPLES, sample

SAMPLE = Path(__file__).with_name("catenax_response_sample.json")
HUB = {"methodology": "calculationBased", "dataQualityTier": "estimated"}


def message() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SAMPLE.read_text("utf-8"))
    return loaded


def records_of(names: list[str]) -> list[EmissionsRecord]:
    return [parse_record(sample(n)) for n in names]


# --- Catena-X ------------------------------------------------------------------------------------


def test_sample_message_parses_to_hub_records() -> None:
    batch = parse_response(message(), hub_fields=HUB)
    assert batch.ok, batch.problems
    first, second, cement = batch.records
    assert first.operator_cbam_id == "O3CI-OPR-TEST-1"
    assert first.installation_cbam_id == "O3CI-INST-TEST-1"
    assert (first.country_code, first.un_lo_code) == ("IN", "INBOM")
    assert (first.latitude, first.longitude) == (19.076, 72.8777)
    assert first.production_method.method_id == "P24"
    assert first.production_method.specific_steel_mill_id == "MILL-T1"
    assert first.direct_emissions.specific_embedded_emissions_direct == 2.0
    assert first.indirect_emissions is not None
    assert first.indirect_emissions.emission_factor_tonnes_co2_per_mwh == 0.7
    assert first.carbon_price_paid[0].amount_of_carbon_price_paid == 1000.0
    assert first.attestation_of_conformance is not None
    assert first.methodology == "measurementBased"  # the record's own hub extension wins
    assert second.methodology == "calculationBased"  # hub_fields fill the gap
    assert second.carbon_price_paid == ()  # the KIT's empty array
    assert cement.sector == "Cement" and cement.country_code == "TR"


def test_sample_message_round_trips() -> None:
    records = parse_response(message(), hub_fields=HUB).records
    again = to_response(records, header={"messageId": "m-2"})
    assert again["header"]["context"] == RESPONSE_CONTEXT
    assert parse_response(again).records == records
    assert parse_response(json.dumps(again)).records == records
    # the KIT fields of an emissions record come out as they went in
    original = message()["content"]["good"][1]["operator"][0]["installation"][0]
    written = again["content"]["good"][1]["operator"][0]["installation"][0]
    assert written["emissionsRecords"][0] == original["emissionsRecords"][0] | HUB
    assert written["installationIdentification"]["address"] == {
        "countryCode": "TR",
        "unLoCode": "TRIZM",
    }


def test_kit_only_output_has_no_hub_fields() -> None:
    records = parse_response(message(), hub_fields=HUB).records
    kit = to_response(records, hub_extensions=False)
    entry = kit["content"]["good"][0]["operator"][0]["installation"][0]["emissionsRecords"][0]
    assert "methodology" not in entry and "dataQualityTier" not in entry
    assert parse_response(kit, hub_fields=HUB).ok


@settings(max_examples=20, deadline=None)
@given(st.lists(st.sampled_from(sorted(SAMPLES)), min_size=1, max_size=6))
def test_records_round_trip_through_the_kit_message(names: list[str]) -> None:
    records = records_of(names)
    back = parse_response(to_response(records)).records
    key = lambda r: json.dumps(record_document(r), sort_keys=True)  # noqa: E731
    assert sorted(back, key=key) == sorted(records, key=key)


def test_missing_methodology_and_tier_are_reported_not_guessed() -> None:
    batch = parse_response(message())
    assert batch.records == ()
    base = "$.content.good[{}].operator[0].installation[0].emissionsRecords[{}]"
    assert [(p.location, p.field) for p in batch.problems] == [
        (base.format(0, 1), "dataQualityTier"),
        (base.format(0, 1), "methodology"),
        (base.format(1, 0), "dataQualityTier"),
        (base.format(1, 0), "methodology"),
    ]
    assert "never guesses" in batch.problems[0].reason


def test_every_bad_record_is_reported_with_its_json_path() -> None:
    bad = message()
    good0 = bad["content"]["good"][0]
    installation = good0["operator"][0]["installation"][0]
    installation["emissionsRecords"][0]["indirectEmissions"][
        "electricityConsumedMwhPerTonnesGood"
    ] = 500
    installation["emissionsRecords"][1]["surprise"] = True
    good1 = bad["content"]["good"][1]
    good1["cnCode"] = "8471 50 00"
    del good1["operator"][0]["installation"][0]["installationIdentification"]["address"][
        "countryCode"
    ]
    batch = parse_response(bad, hub_fields=HUB)
    assert batch.records == ()
    found = {(p.location, p.field) for p in batch.problems}
    base = "$.content.good[0].operator[0]"
    assert found == {
        (
            "$.content.good[1].operator[0].installation[0].installationIdentification.address",
            "countryCode",
        ),
        (
            f"{base}.installation[0].emissionsRecords[0]",
            "indirectEmissions.specificEmbeddedEmissionsIndirect",
        ),
        (f"{base}.installation[0].emissionsRecords[1]", "surprise"),
        ("$.content.good[1]", "cnCode"),
    }


def test_message_level_problems() -> None:
    assert parse_response(b"{oops").problems[0].field == "(message)"
    assert parse_response("[1]").problems[0].reason.startswith("a CBAM KIT message")
    assert "no emissions records" in parse_response({"good": []}).problems[0].reason
    wrong = message()
    wrong["header"]["context"] = "CarbonBorderAdjustmentMechanism-CBAMAPI-Request:1.0.0"
    assert ("$.header", "context") in {
        (p.location, p.field) for p in parse_response(wrong, hub_fields=HUB).problems
    }
    assert parse_response(message()["content"], hub_fields=HUB).ok  # bare content
    assert (
        parse_response(message(), hub_fields={"colour": "red"}).problems[0].location
        == "(hub_fields)"
    )
    odd = message()
    odd["content"]["good"][0]["operator"] = {"not": "a list"}
    assert ("$.content.good[0]", "operator") in {
        (p.location, p.field) for p in parse_response(odd, hub_fields=HUB).problems
    }


# --- signed batches ------------------------------------------------------------------------------


def test_sign_batch_signs_each_canonical_record() -> None:
    key = OrganisationKey.generate()
    records = records_of(sorted(SAMPLES))
    signed = sign_batch(records, key)
    assert len(signed) == len(records)
    for record, document in zip(records, signed, strict=True):
        assert document.payload == canonical(record_document(record))
        assert document.key_id == key.key_id
        assert signature_valid(key.public_key, document.payload, document.signature)


def test_signed_jsonl_round_trips_and_verifies() -> None:
    key = OrganisationKey.generate()
    records = records_of(sorted(SAMPLES))
    lines = list(write_signed_jsonl(sign_batch(records, key)))
    assert set(json.loads(lines[0])) == {"keyId", "payload", "signature"}
    batch = parse_signed_jsonl(lines, public_keys={key.key_id: key.public_key})
    assert batch.ok, batch.problems
    assert [s.record for s in batch.records] == records
    assert [s.signed for s in batch.records] == sign_batch(records, key)


def test_signed_jsonl_reports_every_bad_line() -> None:
    key = OrganisationKey.generate()
    other = OrganisationKey.generate()
    records = records_of(
        ["steel", "cement", "aluminium", "hydrogen", "electricity", "pellets", "fertiliser"]
    )
    lines = list(write_signed_jsonl(sign_batch(records, key)))

    def edit(i: int, **changes: Any) -> None:
        line = json.loads(lines[i])
        line.update(changes)
        lines[i] = json.dumps(line) + "\n"

    tampered = json.loads(base64.b64decode(json.loads(lines[0])["payload"]))
    tampered["directEmissions"]["specificEmbeddedEmissionsDirect"] = 2.1000001
    edit(0, payload=base64.b64encode(canonical(tampered)).decode())  # line 1: bad signature
    edit(1, keyId=other.key_id)  # line 2: unknown key
    edit(2, payload=base64.b64encode(b'{"b":1, "a":2}').decode())  # line 3: not canonical
    not_a_record = canonical({"cnCode": "72085120"})
    edit(3, payload=base64.b64encode(not_a_record).decode())  # line 4: invalid record
    edit(4, signature="%%%")  # line 5: not base64
    lines[5] = "[]\n"  # line 6: wrong shape
    batch = parse_signed_jsonl(lines, public_keys={key.key_id: key.public_key})
    assert batch.records == ()
    by_line: dict[str, set[str]] = {}
    for p in batch.problems:
        by_line.setdefault(p.location, set()).add(p.field)
    assert by_line["line 1"] == {"signature"}
    assert by_line["line 2"] == {"keyId"}
    assert by_line["line 3"] == {"payload"}
    assert "payload.operatorCbamId" in by_line["line 4"]
    assert by_line["line 5"] == {"signature"}
    assert by_line["line 6"] == {"(line)"}
    assert "line 7" not in by_line


def test_signed_jsonl_without_keys_checks_form_only() -> None:
    key = OrganisationKey.generate()
    lines = list(write_signed_jsonl(sign_batch(records_of(["steel"]), key)))
    assert parse_signed_jsonl(lines).ok
    assert "no records" in parse_signed_jsonl([]).problems[0].reason


def test_signed_payload_is_what_the_ledger_commits_to() -> None:
    key = OrganisationKey.generate()
    document = copy.deepcopy(sample("cement"))
    document["activityData"]["netMass"] = {"value": 1_000_000, "unit": "kg"}
    (signed,) = sign_batch([parse_record(document)], key)
    assert b'"unit"' not in signed.payload  # canonical units, no unit objects left
    assert json.loads(signed.payload)["activityData"]["netMass"] == 1000.0


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_signs(name: str) -> None:
    key = OrganisationKey.generate()
    (signed,) = sign_batch(records_of([name]), key)
    assert parse_record(json.loads(signed.payload)) == parse_record(sample(name))
