"""Sample records for the vault's pure tests.

Every figure here is a TEST INPUT chosen for arithmetic consistency, not a regulatory or reference
figure; CN codes are real Annex I codes as listed in shared/reference/cbam_facts.md §1.
"""

from __future__ import annotations

import copy
from typing import Any

PERIOD = {
    "referencePeriodStart": "2026-01-01T00:00:00Z",
    "referencePeriodEnd": "2026-12-31T23:59:59Z",
}
HASH_A = "a" * 64
HASH_B = "b" * 64


def base(cn: str, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "manufacturerId": "org_steelco",
        "operatorCbamId": "O3CI-OPR-000001",
        "installationCbamId": "O3CI-INST-000001",
        "installationId": "inst_mumbai_1",
        "countryCode": "IN",
        "unLoCode": "IN BOM",
        "cnCode": cn,
        "productionMethod": {"methodId": "P24"},
        "activityData": {**PERIOD, "netMass": 1000.0},
        "directEmissions": {"specificEmbeddedEmissionsDirect": 2.0, "attributedEmissions": 2000.0},
        "methodology": "calculationBased",
        "dataQualityTier": "measured",
    }
    record.update(changes)
    return record


def steel() -> dict[str, Any]:
    """Hot-rolled flat steel with a pig-iron precursor; direct only, so no indirect block needed."""
    return base(
        "7208 51 20",
        directEmissions={"specificEmbeddedEmissionsDirect": 2.1, "attributedEmissions": 500.0},
        precursors=[
            {
                "cnCode": "72011011",
                "netMass": 1000.0,
                "specificEmbeddedEmissionsDirect": 1.6,
                "countryCode": "IN",
                "dataQualityTier": "measured",
            }
        ],
    )


def cement() -> dict[str, Any]:
    """Clinker: direct and indirect count; indirect consistent with intensity x factor."""
    return base(
        "25231000",
        directEmissions={"specificEmbeddedEmissionsDirect": 0.85, "attributedEmissions": 850.0},
        indirectEmissions={
            "specificEmbeddedEmissionsIndirect": 0.045,
            "emissionFactorTonnesCo2PerMwh": 0.5,
            "sourceOfEmissionFactor": "02",
            "sourceOfEmissionFactorValue": "TEST INPUT grid factor",
            "electricityConsumedMwhPerTonnesGood": 0.09,
            "electricityConsumed": 90.0,
            "attributedEmissions": 45.0,
            "sourceOfElectricity": "SOE01",
        },
        carbonPricePaid=[
            {
                "typeOfInstrument": "01",
                "independentPersonId": {"key": "National CBAM Verifier Registry", "value": "V-1"},
                "descriptionAndIndicationOfLegalAct": "TEST INPUT carbon tax act",
                "amountOfCarbonPricePaid": 1200.0,
                "currency": "INR",
                "countryCode": "IN",
            }
        ],
        evidenceDocuments=[{"kind": "invoice", "sha256": HASH_A}],
    )


def aluminium() -> dict[str, Any]:
    return base(
        "76011000",
        countryCode="CN",
        unLoCode=None,
        latitude=30.59,
        longitude=114.31,
        directEmissions={"specificEmbeddedEmissionsDirect": 1.7, "attributedEmissions": 1700.0},
        dataQualityTier="verifiedMeasured",
        attestationOfConformance={
            "attestationType": "CBAM third party verification",
            "providerName": "TEST verifier",
            "providerId": "ACC-1",
            "attestationOfConformanceLink": "https://verifier.example/statement/1",
            "completedAt": "2027-03-15T10:00:00Z",
        },
    )


def fertiliser() -> dict[str, Any]:
    """Urea with an ammonia precursor at default values; its indirect data is declared missing."""
    return base(
        "31021010",
        directEmissions={"specificEmbeddedEmissionsDirect": 1.25, "attributedEmissions": 250.0},
        precursors=[
            {
                "cnCode": "28141000",
                "netMass": 500.0,
                "specificEmbeddedEmissionsDirect": 2.0,
                "dataQualityTier": "default",
                "defaultValueSource": "TEST INPUT default table",
            }
        ],
        missingData=[{"field": "indirectEmissions", "reason": "grid data not yet received"}],
    )


def hydrogen() -> dict[str, Any]:
    return base(
        "28041000",
        methodology="defaultValues",
        dataQualityTier="default",
        defaultValueSource="TEST INPUT default table, IN, 28041000",
        directEmissions={"specificEmbeddedEmissionsDirect": 9.0},
    )


def electricity() -> dict[str, Any]:
    return base(
        "27160000",
        activityData={**PERIOD, "netElectricity": 5000.0},
        directEmissions={"specificEmbeddedEmissionsDirect": 0.7, "attributedEmissions": 3500.0},
        methodology="measurementBased",
    )


def pellets() -> dict[str, Any]:
    """2601 12 00: iron and steel sector, but indirect counts (reference: likely not in Annex II)."""
    return base(
        "26011200",
        directEmissions={"specificEmbeddedEmissionsDirect": 0.2, "attributedEmissions": 200.0},
        indirectEmissions={"specificEmbeddedEmissionsIndirect": 0.03},
        methodology="massBalance",
        dataQualityTier="estimated",
    )


SAMPLES = {
    "steel": steel,
    "cement": cement,
    "aluminium": aluminium,
    "fertiliser": fertiliser,
    "hydrogen": hydrogen,
    "electricity": electricity,
    "pellets": pellets,
}


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(SAMPLES[name]())
