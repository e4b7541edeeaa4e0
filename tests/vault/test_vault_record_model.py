"""The full emissions record: valid records of every sector, and every cross-field rule."""

from __future__ import annotations

from typing import Any

import pytest
from cbamhub.vault.record_model import (
    DataQualityTier,
    EmissionsRecord,
    Methodology,
    Tolerance,
    parse_record,
    record_document,
    validation_problems,
)
from pydantic import ValidationError
from vault_samples import HASH_A, HASH_B, SAMPLES, sample


def problems(document: dict[str, Any], **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        parse_record(document, **kwargs)
    return validation_problems(caught.value)


def fields(document: dict[str, Any]) -> set[str]:
    return {f for f, _ in problems(document)}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sector_sample_is_valid_and_round_trips(name: str) -> None:
    record = parse_record(sample(name))
    document = record_document(record)
    assert parse_record(document) == record
    assert record_document(parse_record(document)) == document
    assert "None" not in repr(document)  # absent figures are left out, never written as zero


def test_sector_and_activity_level() -> None:
    assert parse_record(sample("cement")).sector == "Cement"
    assert parse_record(sample("steel")).sector == "Iron & steel"
    assert parse_record(sample("electricity")).activity_level == 5000.0
    assert parse_record(sample("steel")).activity_level == 1000.0


def test_kit_names_are_the_json_aliases() -> None:
    document = record_document(parse_record(sample("cement")))
    assert document["operatorCbamId"] == "O3CI-OPR-000001"
    assert document["unLoCode"] == "INBOM"  # normalised, the KIT's own sample writes "IN BOM"
    indirect = document["indirectEmissions"]
    assert set(indirect) >= {
        "specificEmbeddedEmissionsIndirect",
        "emissionFactorTonnesCo2PerMwh",
        "electricityConsumedMwhPerTonnesGood",
        "sourceOfEmissionFactor",
        "sourceOfElectricity",
    }
    price = document["carbonPricePaid"][0]
    assert set(price) == {
        "typeOfInstrument",
        "independentPersonId",
        "descriptionAndIndicationOfLegalAct",
        "amountOfCarbonPricePaid",
        "currency",
        "countryCode",
    }


def test_snake_case_and_unknown_fields_are_refused() -> None:
    document = sample("steel")
    document["cn_code"] = document.pop("cnCode")
    assert {"cnCode", "cn_code"} <= fields(document)
    document = sample("steel")
    document["surprise"] = 1
    assert fields(document) == {"surprise"}


def test_records_are_frozen() -> None:
    record = parse_record(sample("steel"))
    with pytest.raises(ValidationError):
        record.cn_code = "72011011"  # type: ignore[misc]


# --- Annex I -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cn", ["72085120", "7208 51 20", "7208.51.20", "25070080", "31021010", "73181500", "76011000"]
)
def test_cn_codes_in_scope(cn: str) -> None:
    parse_record(sample("steel") | {"cnCode": cn, "precursors": []} | _direct_only())


def _direct_only() -> dict[str, Any]:
    """Consistent emissions, with an indirect block (given is fine where only direct counts)."""
    return {
        "directEmissions": {"specificEmbeddedEmissionsDirect": 0.5, "attributedEmissions": 500.0},
        "indirectEmissions": {"specificEmbeddedEmissionsIndirect": 0.1},
    }


@pytest.mark.parametrize(
    ("cn", "why"),
    [
        ("72021100", None),  # ferro-manganese is in
        ("72022100", "excluded"),  # ferro-silicon (7202 2x) is excluded
        ("72044100", "excluded"),  # scrap
        ("31056000", "excluded"),
        ("25070020", "out"),  # only 2507 00 80 of heading 2507
        ("73121000", "out"),  # 7312 is not listed
        ("76021100", "out"),  # aluminium waste
        ("84715000", "out"),
    ],
)
def test_cn_codes_out_of_scope(cn: str, why: str | None) -> None:
    document = sample("steel") | {"cnCode": cn, "precursors": []} | _direct_only()
    if why is None:
        parse_record(document)
        return
    found = problems(document)
    assert found[0][0] == "cnCode"
    assert "not a CBAM good" in found[0][1]


@pytest.mark.parametrize("cn", ["7208512", "720851200", "7208-51-20", "ABCDEFGH", ""])
def test_malformed_cn_codes(cn: str) -> None:
    found = problems(sample("steel") | {"cnCode": cn})
    assert found[0][0] == "cnCode"
    assert "pattern" in found[0][1]


def test_precursor_cn_code_is_checked_too() -> None:
    document = sample("steel")
    document["precursors"][0]["cnCode"] = "84715000"
    assert fields(document) == {"precursors[0].cnCode"}


# --- arithmetic ----------------------------------------------------------------------------------


def test_see_must_match_emissions_over_activity_with_precursors() -> None:
    document = sample("steel")
    document["directEmissions"]["specificEmbeddedEmissionsDirect"] = 2.5
    (field, reason), *_ = problems(document)
    assert field == "directEmissions.specificEmbeddedEmissionsDirect"
    assert "= 2.1" in reason


def test_see_within_tolerance_and_configurable() -> None:
    document = sample("steel")
    document["directEmissions"]["specificEmbeddedEmissionsDirect"] = 2.115  # 0.7 % off
    parse_record(document)
    assert problems(document, tolerance=Tolerance(relative=0.001, absolute=0.0))


def test_activity_level_in_kg_labelled_as_tonnes_is_caught_with_a_hint() -> None:
    document = sample("hydrogen") | {
        "methodology": "measurementBased",
        "dataQualityTier": "measured",
        "defaultValueSource": None,
        "directEmissions": {"specificEmbeddedEmissionsDirect": 9.0, "attributedEmissions": 9000.0},
        "activityData": {"referencePeriodStart": "2026-01-01T00:00:00Z",
                         "referencePeriodEnd": "2026-12-31T00:00:00Z", "netMass": 1_000_000.0},
    }  # fmt: skip
    (field, reason), *_ = problems(document)
    assert field == "directEmissions.specificEmbeddedEmissionsDirect"
    assert "factor of 0.001" in reason and "kg rather than t" in reason


def test_activity_level_given_in_kg_with_its_unit_is_converted() -> None:
    document = sample("steel")
    document["activityData"]["netMass"] = {"value": 1_000_000, "unit": "kg"}
    record = parse_record(document)
    assert record.activity_data.net_mass == 1000.0
    assert record_document(record) == record_document(parse_record(sample("steel")))


def test_quantities_with_units_are_stored_canonical() -> None:
    document = sample("cement")
    indirect = document["indirectEmissions"]
    indirect["emissionFactorTonnesCo2PerMwh"] = {"value": 500, "unit": "gCO2/kWh"}
    indirect["electricityConsumed"] = {"value": 90_000, "unit": "kWh"}
    indirect["electricityConsumedMwhPerTonnesGood"] = {"value": 90, "unit": "kWh/t"}
    document["directEmissions"]["attributedEmissions"] = {"value": 850_000, "unit": "kgCO2e"}
    record = parse_record(document)
    assert record == parse_record(sample("cement"))


def test_wrong_dimension_names_the_field() -> None:
    document = sample("cement")
    document["indirectEmissions"]["electricityConsumed"] = {"value": 90, "unit": "t"}
    document["activityData"]["netMass"] = {"value": 1000, "unit": "MWh"}
    found = dict(problems(document))
    assert "is a mass, not convertible to MWh" in found["indirectEmissions.electricityConsumed"]
    assert "is an energy, not convertible to t" in found["activityData.netMass"]


def test_kwh_written_as_mwh_per_tonne_is_caught_by_the_indirect_check() -> None:
    document = sample("cement")
    document["indirectEmissions"]["electricityConsumedMwhPerTonnesGood"] = 90.0  # kWh/t as MWh/t
    found = dict(problems(document))
    reason = found["indirectEmissions.specificEmbeddedEmissionsIndirect"]
    assert "factor of 1000" in reason and "kWh rather than MWh" in reason
    assert "indirectEmissions.electricityConsumedMwhPerTonnesGood" in found


def test_indirect_attributed_over_activity_is_checked() -> None:
    document = sample("cement")
    document["indirectEmissions"]["attributedEmissions"] = 60.0
    assert fields(document) == {"indirectEmissions.specificEmbeddedEmissionsIndirect"}


def test_electricity_see_is_per_mwh() -> None:
    document = sample("electricity")
    document["directEmissions"]["specificEmbeddedEmissionsDirect"] = {
        "value": 700,
        "unit": "gCO2/kWh",
    }
    assert parse_record(document).direct_emissions.specific_embedded_emissions_direct == 0.7
    document["directEmissions"]["specificEmbeddedEmissionsDirect"] = {
        "value": 0.7,
        "unit": "tCO2e/t",
    }
    (field, reason), *_ = problems(document)
    assert field == "directEmissions.specificEmbeddedEmissionsDirect"
    assert "not convertible to tCO2e/MWh" in reason


def test_electricity_activity_in_mwh_only() -> None:
    document = sample("electricity")
    document["activityData"] = {**document["activityData"], "netMass": 10.0}
    assert "activityData.netMass" in fields(document)
    document = sample("steel")
    document["activityData"] = {**document["activityData"], "netElectricity": 10.0}
    assert "activityData.netElectricity" in fields(document)
    document = sample("steel")
    del document["activityData"]["netMass"]
    assert fields(document) == {"activityData.netMass"}


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan"), True, "many"])
def test_activity_level_must_be_a_positive_finite_number(value: object) -> None:
    document = sample("steel")
    document["activityData"]["netMass"] = value
    assert fields(document) == {"activityData.netMass"}


def test_reference_period_rules() -> None:
    document = sample("steel")
    document["activityData"]["referencePeriodEnd"] = "2025-12-31T00:00:00Z"
    assert fields(document) == {"activityData"}
    document["activityData"]["referencePeriodEnd"] = "2027-06-30T00:00:00Z"
    assert "calendar year" in problems(document)[0][1]
    document["activityData"]["referencePeriodEnd"] = "2026-06-30T00:00:00"  # naive
    assert fields(document) == {"activityData.referencePeriodEnd"}


# --- missing data is not zero --------------------------------------------------------------------


def test_indirect_counting_sector_without_indirect_data_must_say_so() -> None:
    document = sample("cement")
    del document["indirectEmissions"]
    (field, reason), *_ = problems(document)
    assert field == "indirectEmissions" and "declare them in missingData" in reason
    document["missingData"] = [{"field": "indirectEmissions", "reason": "no meter data yet"}]
    parse_record(document)


def test_pellets_count_indirect_and_steel_does_not() -> None:
    document = sample("pellets")
    del document["indirectEmissions"]
    assert fields(document) == {"indirectEmissions"}
    parse_record(sample("steel"))  # no indirect block, nothing declared: direct only


def test_declared_missing_but_present_is_a_contradiction() -> None:
    document = sample("cement")
    document["missingData"] = [{"field": "indirectEmissions", "reason": "x"}]
    assert fields(document) == {"missingData"}
    document = sample("steel")
    document["missingData"] = [{"field": "precursors", "reason": "x"}] * 2
    assert len(problems(document)) == 2


def test_zero_indirect_see_needs_a_basis() -> None:
    document = sample("pellets")
    document["indirectEmissions"]["specificEmbeddedEmissionsIndirect"] = 0
    assert "missing figure is not zero" in problems(document)[0][1]
    document["indirectEmissions"] |= {"electricityConsumedMwhPerTonnesGood": 0}
    parse_record(document)


def test_zero_direct_see_needs_zero_attributed_emissions_stated() -> None:
    document = sample("hydrogen")
    document["directEmissions"]["specificEmbeddedEmissionsDirect"] = 0
    assert fields(document) == {"directEmissions.specificEmbeddedEmissionsDirect"}


def test_precursor_see_is_required() -> None:
    document = sample("steel")
    del document["precursors"][0]["specificEmbeddedEmissionsDirect"]
    assert fields(document) == {"precursors[0].specificEmbeddedEmissionsDirect"}


def test_incomplete_precursor_masses_skip_the_see_check() -> None:
    document = sample("steel")
    del document["precursors"][0]["netMass"]
    document["directEmissions"]["specificEmbeddedEmissionsDirect"] = 3.0
    parse_record(document)


# --- methodology and tiers -----------------------------------------------------------------------


def test_default_values_need_tier_default_and_a_source() -> None:
    document = sample("hydrogen") | {"dataQualityTier": "estimated", "defaultValueSource": None}
    assert fields(document) == {"dataQualityTier", "defaultValueSource"}


def test_tier_default_needs_methodology_default_values() -> None:
    document = sample("steel") | {"dataQualityTier": "default"}
    assert fields(document) == {"methodology"}


def test_default_value_source_only_with_default_values() -> None:
    document = sample("steel") | {"defaultValueSource": "TEST"}
    assert fields(document) == {"defaultValueSource"}


def test_verified_measured_needs_an_attestation() -> None:
    document = sample("aluminium")
    del document["attestationOfConformance"]
    assert fields(document) == {"attestationOfConformance"}


def test_precursor_default_marking() -> None:
    document = sample("fertiliser")
    del document["precursors"][0]["defaultValueSource"]
    assert fields(document) == {"precursors[0]"}


def test_tier_order() -> None:
    order = [DataQualityTier(v) for v in ("default", "estimated", "measured", "verifiedMeasured")]
    assert sorted(reversed(order)) == order
    assert DataQualityTier.DEFAULT < DataQualityTier.VERIFIED_MEASURED
    assert DataQualityTier.MEASURED >= "estimated"
    assert max(order) is DataQualityTier.VERIFIED_MEASURED
    assert {m.value for m in Methodology} == {
        "calculationBased", "massBalance", "measurementBased", "defaultValues"
    }  # fmt: skip


# --- other fields --------------------------------------------------------------------------------


def test_emission_factor_needs_its_source() -> None:
    document = sample("cement")
    del document["indirectEmissions"]["sourceOfEmissionFactor"]
    del document["indirectEmissions"]["sourceOfEmissionFactorValue"]
    assert fields(document) == {"indirectEmissions"}


def test_zero_emission_factor_needs_ppa_or_guarantee_of_origin() -> None:
    document = sample("cement")
    document["indirectEmissions"] = {
        "specificEmbeddedEmissionsIndirect": 0,
        "emissionFactorTonnesCo2PerMwh": 0,
        "sourceOfEmissionFactorValue": "own solar park",
        "electricityConsumedMwhPerTonnesGood": 0.09,
    }
    assert fields(document) == {"evidenceDocuments"}
    document["evidenceDocuments"].append({"kind": "ppa", "sha256": HASH_B.upper()})
    record = parse_record(document)
    assert record.evidence_documents[1].sha256 == HASH_B


def test_evidence_hashes_are_sha256_hex_and_unique() -> None:
    document = sample("cement")
    document["evidenceDocuments"] = [{"kind": "invoice", "sha256": "xyz"}]
    assert fields(document) == {"evidenceDocuments[0].sha256"}
    document["evidenceDocuments"] = [{"kind": "meterExport", "sha256": HASH_A}] * 2
    assert fields(document) == {"evidenceDocuments"}
    document["evidenceDocuments"] = [{"kind": "receipt", "sha256": HASH_A}]
    assert fields(document) == {"evidenceDocuments[0].kind"}


def test_carbon_price_fields() -> None:
    document = sample("cement")
    price = document["carbonPricePaid"][0]
    price["currency"] = "inr"
    price["countryCode"] = "India"
    del price["independentPersonId"]
    assert fields(document) == {
        "carbonPricePaid[0].currency",
        "carbonPricePaid[0].countryCode",
        "carbonPricePaid[0].independentPersonId",
    }


def test_location_rules() -> None:
    assert fields(sample("steel") | {"unLoCode": "CNSHA"}) == {"unLoCode"}
    assert fields(sample("steel") | {"unLoCode": None}) == {"unLoCode"}
    assert fields(sample("steel") | {"unLoCode": None, "latitude": 19.0}) == {"latitude"}
    assert fields(sample("steel") | {"latitude": 91.0, "longitude": 0}) == {"latitude"}
    assert fields(sample("steel") | {"unLoCode": "IN-BOM"}) == {"unLoCode"}


def test_every_cross_field_problem_is_reported_at_once() -> None:
    document = sample("cement") | {"dataQualityTier": "default", "unLoCode": "CNSHA"}
    del document["indirectEmissions"]
    assert fields(document) == {"methodology", "unLoCode", "indirectEmissions"}


def test_model_is_the_record_type() -> None:
    assert isinstance(parse_record(sample("steel")), EmissionsRecord)
