"""The full CBAM emissions record: one installation, one CN code, one reporting period.

WHY this shape: importers exchange CBAM data with the Catena-X CBAM KIT (SAMM ``io.catenax.cbam``
1.0.0), so every field the KIT has keeps the KIT's name (the JSON alias, camelCase) and the hub's
additions (methodology, data-quality tier, precursors, evidence, declared gaps) sit beside them;
vault/README.md maps each field. Quantities are canonical (t, MWh, tCO2e, tCO2e/t or tCO2e/MWh for
electricity, tCO2/MWh, MWh/t); input may give ``{"value", "unit"}`` instead, converted by
`cbamhub.vault.units`. Cross-field rules make the record arithmetic hold together and make every gap
explicit: a missing figure is ``None`` and must be declared, never a silent zero.

The Annex I scope comes from ``vault/data/annex_i.json``, an UNCONFIRMED extract of the reference
(see ``vault/tools/extract_annex_i.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel

from . import units

__all__ = [
    "ELECTRICITY_CN",
    "ActivityData",
    "AnnexI",
    "AnnexISector",
    "AttestationOfConformance",
    "CarbonPricePaid",
    "CrossFieldError",
    "DataQualityTier",
    "DirectEmissions",
    "EmissionsRecord",
    "EvidenceDocument",
    "EvidenceKind",
    "IndirectEmissions",
    "KeyValue",
    "Methodology",
    "MissingData",
    "MissingItem",
    "Precursor",
    "ProductionMethod",
    "Tolerance",
    "annex_i",
    "normalise_cn",
    "parse_record",
    "record_document",
    "unit_plan",
    "validation_problems",
]

ELECTRICITY_CN = "27160000"


# --- Annex I -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnexISector:
    name: str
    ghg: tuple[str, ...]
    prefixes: tuple[str, ...]
    excluded: tuple[str, ...]
    indirect_counts: bool
    indirect_counts_also_for: tuple[str, ...]

    def covers(self, cn: str) -> bool:
        return cn.startswith(self.prefixes) and not cn.startswith(self.excluded)


@dataclass(frozen=True)
class AnnexI:
    """Annex I of Reg. 2023/956 as vendored: which CN codes are CBAM goods and which count indirect."""

    status: str
    provenance: Mapping[str, str]
    sectors: tuple[AnnexISector, ...]

    def sector_of(self, cn: str) -> AnnexISector | None:
        """The sector of an 8-digit CN code, or None when the code is outside Annex I."""
        for sector in self.sectors:
            if sector.covers(cn):
                return sector
        return None

    def indirect_counts(self, cn: str) -> bool:
        """Art. 7(1): for goods in Annex II only direct emissions count."""
        sector = self.sector_of(cn)
        if sector is None:
            return False
        return sector.indirect_counts or cn.startswith(sector.indirect_counts_also_for)


@cache
def annex_i() -> AnnexI:
    text = (resources.files("cbamhub.vault") / "data" / "annex_i.json").read_text("utf-8")
    data = json.loads(text)
    return AnnexI(
        status=data["status"],
        provenance=data["provenance"],
        sectors=tuple(
            AnnexISector(
                name=s["sector"],
                ghg=tuple(s["ghg"]),
                prefixes=tuple(s["cn_prefixes"]),
                excluded=tuple(s["excluded_cn_prefixes"]),
                indirect_counts=s["indirect_counts"],
                indirect_counts_also_for=tuple(s["indirect_counts_also_for"]),
            )
            for s in data["sectors"]
        ),
    )


@lru_cache(maxsize=4096)
def _sector_of(cn: str) -> AnnexISector | None:
    """`annex_i().sector_of`, remembered per CN code: validation asks it for every record and
    precursor, and a batch repeats a handful of codes."""
    return annex_i().sector_of(cn)


@lru_cache(maxsize=4096)
def _indirect_counts(cn: str) -> bool:
    return annex_i().indirect_counts(cn)


def normalise_cn(value: object) -> object:
    """``"7208 51 20"`` and ``"7208.51.20"`` -> ``"72085120"``; other input is left to the pattern."""
    if isinstance(value, str):
        return value.replace(" ", "").replace(".", "")
    return value


def _in_annex_i(cn: str) -> str:
    if _sector_of(cn) is None:
        raise ValueError(
            f"CN {cn} is not a CBAM good: it starts with no heading of Annex I of Reg. (EU) 2023/956 "
            "(or with an excluded one)"
        )
    return cn


CnCode = Annotated[
    str,
    BeforeValidator(normalise_cn),
    Field(pattern=r"^\d{8}$", description="8-digit Combined Nomenclature code"),
    AfterValidator(_in_annex_i),
]


# --- field types -------------------------------------------------------------------------------


def _reject_unconverted(value: object) -> object:
    kind = type(value)
    if kind is float or kind is int:  # the common case, decided before the ABC check below
        return value
    if isinstance(value, units.UnitProblem):
        raise ValueError(value.reason)
    if isinstance(value, Mapping) and "unit" in value:
        raise ValueError("a {value, unit} quantity is not accepted here")
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


Amount = Annotated[float, BeforeValidator(_reject_unconverted), Field(ge=0)]
"""A non-negative quantity in the field's canonical unit."""
Positive = Annotated[float, BeforeValidator(_reject_unconverted), Field(gt=0)]
Identifier = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^\S(.*\S)?$")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]


def _unlocode(value: object) -> object:
    return value.replace(" ", "").upper() if isinstance(value, str) else value


UnLoCode = Annotated[str, BeforeValidator(_unlocode), Field(pattern=r"^[A-Z]{2}[A-Z2-9]{3}$")]


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


Sha256Hex = Annotated[str, BeforeValidator(_lower), Field(pattern=r"^[0-9a-f]{64}$")]


class Methodology(StrEnum):
    """How the embedded emissions were determined (Annex IV of Reg. 2023/956; 2025/2547)."""

    CALCULATION = "calculationBased"
    MASS_BALANCE = "massBalance"
    MEASUREMENT = "measurementBased"
    DEFAULT_VALUES = "defaultValues"


class DataQualityTier(StrEnum):
    """Ordered: default < estimated < measured < verifiedMeasured (comparisons follow that order)."""

    DEFAULT = "default"
    ESTIMATED = "estimated"
    MEASURED = "measured"
    VERIFIED_MEASURED = "verifiedMeasured"

    @property
    def rank(self) -> int:
        return list(DataQualityTier).index(self)

    def _other_rank(self, other: str) -> int:
        return DataQualityTier(other).rank

    def __lt__(self, other: str) -> bool:
        return self.rank < self._other_rank(other)

    def __le__(self, other: str) -> bool:
        return self.rank <= self._other_rank(other)

    def __gt__(self, other: str) -> bool:
        return self.rank > self._other_rank(other)

    def __ge__(self, other: str) -> bool:
        return self.rank >= self._other_rank(other)


class EvidenceKind(StrEnum):
    PPA = "ppa"
    GUARANTEE_OF_ORIGIN = "guaranteeOfOrigin"
    INVOICE = "invoice"
    METER_EXPORT = "meterExport"


class MissingItem(StrEnum):
    """Upstream data a record may declare missing (instead of a silent zero)."""

    INDIRECT_EMISSIONS = "indirectEmissions"
    PRECURSORS = "precursors"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        alias_generator=to_camel,
        serialize_by_alias=True,
        str_strip_whitespace=True,
    )


class KeyValue(_Model):
    key: Identifier
    value: Identifier


class ProductionMethod(_Model):
    """KIT ``productionMethod``: the CBAM portal's production-route code, e.g. P24."""

    method_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,40}$")]
    specific_steel_mill_id: Identifier | None = None
    additional_information: Text | None = None


class ActivityData(_Model):
    """KIT ``activityData``: reference period and activity level (t of goods; MWh for electricity)."""

    reference_period_start: AwareDatetime
    reference_period_end: AwareDatetime
    net_mass: Positive | None = None
    """Tonnes of the good produced in the period by this production method (KIT netMass)."""
    net_electricity: Positive | None = None
    """MWh, for electricity (CN 2716 00 00) only: hub extension, the KIT knows goods by mass."""

    @model_validator(mode="after")
    def _period(self) -> ActivityData:
        if self.reference_period_end < self.reference_period_start:
            raise ValueError("referencePeriodEnd is before referencePeriodStart")
        if self.reference_period_start.year != self.reference_period_end.year:
            raise ValueError(
                "the reference period must lie within one calendar year (CBAM KIT rule)"
            )
        return self


class DirectEmissions(_Model):
    specific_embedded_emissions_direct: Amount
    """tCO2e per tonne of good (per MWh for electricity), precursors included."""
    attributed_emissions: Amount | None = None
    """tCO2e attributed to the process over the period, precursors excluded (hub extension)."""
    additional_information: Text | None = None


class IndirectEmissions(_Model):
    specific_embedded_emissions_indirect: Amount
    """tCO2e per tonne of good."""
    emission_factor_tonnes_co2_per_mwh: Amount | None = None
    source_of_emission_factor: Identifier | None = None
    """The CBAM portal's value-list code of the factor's source, e.g. "02"."""
    source_of_emission_factor_value: Text | None = None
    """Free text naming the factor's source, e.g. the publication."""
    electricity_consumed_mwh_per_tonnes_good: Amount | None = None
    source_of_electricity: Identifier | None = None
    electricity_consumed: Amount | None = None
    """MWh consumed by the production process over the period (hub extension)."""
    attributed_emissions: Amount | None = None
    """tCO2e of that electricity over the period (hub extension)."""

    @model_validator(mode="after")
    def _factor_has_source(self) -> IndirectEmissions:
        if self.emission_factor_tonnes_co2_per_mwh is not None and not (
            self.source_of_emission_factor or self.source_of_emission_factor_value
        ):
            raise ValueError(
                "an emission factor needs its source (sourceOfEmissionFactor or "
                "sourceOfEmissionFactorValue)"
            )
        return self


class Precursor(_Model):
    """A relevant precursor consumed by the process, with its own embedded emissions."""

    cn_code: CnCode
    net_mass: Amount | None = None
    """Tonnes consumed over the period."""
    specific_embedded_emissions_direct: Amount
    specific_embedded_emissions_indirect: Amount | None = None
    country_code: Country | None = None
    installation_cbam_id: Identifier | None = None
    data_quality_tier: DataQualityTier
    default_value_source: Text | None = None

    @model_validator(mode="after")
    def _defaults_are_marked(self) -> Precursor:
        if (self.data_quality_tier is DataQualityTier.DEFAULT) != (
            self.default_value_source is not None
        ):
            raise ValueError(
                "a precursor has tier 'default' exactly when it names its defaultValueSource"
            )
        return self


class CarbonPricePaid(_Model):
    """KIT ``carbonPricePaid``: carbon price effectively paid in the country of origin (Art. 9)."""

    type_of_instrument: Identifier
    independent_person_id: KeyValue
    description_and_indication_of_legal_act: Text | None = None
    amount_of_carbon_price_paid: Amount
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]
    country_code: Country


class AttestationOfConformance(_Model):
    attestation_type: Text | None = None
    attestation_standard: Text | None = None
    standard_name: Text | None = None
    provider_name: Text | None = None
    provider_id: Identifier | None = None
    accreditation_body_name: Text | None = None
    attestation_of_conformance_id: Identifier | None = None
    attestation_of_conformance_link: Annotated[str, Field(pattern=r"^https://\S+$")] | None = None
    completed_at: AwareDatetime | None = None


class EvidenceDocument(_Model):
    kind: EvidenceKind
    sha256: Sha256Hex
    name: Text | None = None


class MissingData(_Model):
    field: MissingItem
    reason: Text


@dataclass(frozen=True)
class Tolerance:
    """How far a given figure may differ from the one recomputed from its parts.

    A rounding allowance of the hub, not a regulatory figure: |given - computed| <=
    max(relative * max(|given|, |computed|), absolute). Override per validation with
    ``context={"tolerance": Tolerance(...)}``.
    """

    relative: float = 0.01
    absolute: float = 0.005

    def close(self, given: float, computed: float) -> bool:
        bound = max(self.relative * max(abs(given), abs(computed)), self.absolute)
        return abs(given - computed) <= bound


_TOLERANCE = Tolerance()


class CrossFieldError(ValueError):
    """Every cross-field problem of one record, each as (dotted field, reason)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {r}" for f, r in problems))
        self.problems = tuple(problems)


def _is_electricity(cn_code: object) -> bool:
    return isinstance(cn_code, str) and normalise_cn(cn_code) == ELECTRICITY_CN


def unit_plan(cn_code: object) -> dict[str, str]:
    """Canonical unit of every quantity path of a record; electricity is specific per MWh."""
    return _plan(_is_electricity(cn_code))


def _plan(electricity: bool) -> dict[str, str]:
    see = units.SEE_PER_MWH if electricity else units.SEE_PER_TONNE
    return {
        "activityData.netMass": units.MASS,
        "activityData.netElectricity": units.ENERGY,
        "directEmissions.specificEmbeddedEmissionsDirect": see,
        "directEmissions.attributedEmissions": units.EMISSIONS,
        "indirectEmissions.specificEmbeddedEmissionsIndirect": units.SEE_PER_TONNE,
        "indirectEmissions.emissionFactorTonnesCo2PerMwh": units.EMISSION_FACTOR,
        "indirectEmissions.electricityConsumedMwhPerTonnesGood": units.ELECTRICITY_INTENSITY,
        "indirectEmissions.electricityConsumed": units.ENERGY,
        "indirectEmissions.attributedEmissions": units.EMISSIONS,
        "freeAllocationFactor": units.SEE_PER_TONNE,
        "precursors.*.netMass": units.MASS,
        "precursors.*.specificEmbeddedEmissionsDirect": units.SEE_PER_TONNE,
        "precursors.*.specificEmbeddedEmissionsIndirect": units.SEE_PER_TONNE,
    }


@cache
def _compiled_unit_plan(electricity: bool) -> units.UnitPlan:
    """`unit_plan` compiled, once for electricity and once for goods: the plan depends on nothing
    else, so validation does not rebuild and re-walk it per record."""
    return units.compile_plan(_plan(electricity))


class EmissionsRecord(_Model):
    """One installation's embedded emissions for one CN code and one reporting period."""

    manufacturer_id: Identifier | None = None
    """The hub's organisation id of the manufacturer (hub extension)."""
    operator_cbam_id: Identifier
    installation_cbam_id: Identifier
    installation_id: Identifier | None = None
    """The hub's installation id (hub extension)."""
    country_code: Country
    """Country of the installation (KIT installation address countryCode); decides the home shard."""
    un_lo_code: UnLoCode | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    cn_code: CnCode
    product_line_id: Identifier | None = None
    """The hub's product line id: required to publish (it must list `cn_code`; hub extension)."""
    supersedes_record_id: Identifier | None = None
    """A correction names the record it supersedes (hub extension; vault/lifecycle.py)."""
    production_method: ProductionMethod
    activity_data: ActivityData
    direct_emissions: DirectEmissions
    indirect_emissions: IndirectEmissions | None = None
    free_allocation_factor: Amount | None = None
    precursors: tuple[Precursor, ...] = ()
    methodology: Methodology
    data_quality_tier: DataQualityTier
    default_value_source: Text | None = None
    """Where default values came from, e.g. "Impl. Reg. (EU) 2025/2621, IN, 72011000"."""
    attestation_of_conformance: AttestationOfConformance | None = None
    carbon_price_paid: tuple[CarbonPricePaid, ...] = ()
    evidence_documents: tuple[EvidenceDocument, ...] = ()
    missing_data: tuple[MissingData, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _canonical_units(cls, data: Any) -> Any:
        """`units.canonicalise(data, unit_plan(cnCode))`, with the plan compiled once per kind of
        good, and without a copy when nothing needs converting (pydantic never mutates it)."""
        if isinstance(data, Mapping):
            plan = _compiled_unit_plan(_is_electricity(data.get("cnCode")))
            if not plan.needs_conversion(data):
                return data if type(data) is dict else dict(data)
            return plan.convert_copy(data)
        return data

    @property
    def sector(self) -> str:
        sector = _sector_of(self.cn_code)
        assert sector is not None  # the CN code was checked at validation
        return sector.name

    @property
    def is_electricity(self) -> bool:
        return self.cn_code == ELECTRICITY_CN

    @property
    def activity_level(self) -> float:
        """t of goods, or MWh for electricity."""
        level = (
            self.activity_data.net_electricity
            if self.is_electricity
            else self.activity_data.net_mass
        )
        assert level is not None  # checked at validation
        return level

    @model_validator(mode="after")
    def _cross_field(self, info: ValidationInfo) -> EmissionsRecord:
        context = info.context
        tolerance = (
            context.get("tolerance", _TOLERANCE) if isinstance(context, Mapping) else _TOLERANCE
        )
        problems: list[tuple[str, str]] = []
        self._check_activity(problems)
        if not problems:
            self._check_direct(problems, tolerance)
            self._check_indirect(problems, tolerance)
        self._check_quality(problems)
        self._check_gaps(problems)
        self._check_location(problems)
        self._check_evidence(problems)
        if problems:
            raise CrossFieldError(problems)
        return self

    def _check_activity(self, problems: list[tuple[str, str]]) -> None:
        data = self.activity_data
        if self.is_electricity:
            if data.net_electricity is None:
                problems.append(("activityData.netElectricity", "electricity needs its MWh"))
            if data.net_mass is not None:
                problems.append(("activityData.netMass", "electricity is measured in MWh, not t"))
        else:
            if data.net_mass is None:
                problems.append(
                    ("activityData.netMass", "the activity level (t of goods) is missing")
                )
            if data.net_electricity is not None:
                problems.append(
                    ("activityData.netElectricity", "only electricity has an MWh level")
                )

    def _check_direct(self, problems: list[tuple[str, str]], tolerance: Tolerance) -> None:
        direct = self.direct_emissions
        given = direct.specific_embedded_emissions_direct
        level = self.activity_level
        per = "MWh" if self.is_electricity else "t"
        masses = [p.net_mass for p in self.precursors]
        if direct.attributed_emissions is not None and all(m is not None for m in masses):
            embedded = sum(
                (p.net_mass or 0.0) * p.specific_embedded_emissions_direct for p in self.precursors
            )
            computed = (direct.attributed_emissions + embedded) / level
            if not tolerance.close(given, computed):
                level_field = "netElectricity" if self.is_electricity else "netMass"
                problems.append(
                    (
                        "directEmissions.specificEmbeddedEmissionsDirect",
                        f"{given:g} tCO2e/{per} given, but (attributedEmissions + precursors) / "
                        f"activity level = {computed:.6g}"
                        + units.factor_1000_hint(
                            given, computed, mass=f"activityData.{level_field}"
                        ),
                    )
                )
        if given == 0 and direct.attributed_emissions is None:
            problems.append(
                (
                    "directEmissions.specificEmbeddedEmissionsDirect",
                    "a zero SEE needs attributedEmissions stated as 0: a missing figure is not zero",
                )
            )

    def _check_indirect(self, problems: list[tuple[str, str]], tolerance: Tolerance) -> None:
        indirect = self.indirect_emissions
        if indirect is None:
            return
        given = indirect.specific_embedded_emissions_indirect
        factor = indirect.emission_factor_tonnes_co2_per_mwh
        intensity = indirect.electricity_consumed_mwh_per_tonnes_good
        field = "indirectEmissions.specificEmbeddedEmissionsIndirect"
        if factor is not None and intensity is not None:
            computed = intensity * factor
            if not tolerance.close(given, computed):
                problems.append(
                    (
                        field,
                        f"{given:g} tCO2e/t given, but electricityConsumedMwhPerTonnesGood x "
                        f"emissionFactorTonnesCo2PerMwh = {computed:.6g}"
                        + units.factor_1000_hint(
                            given, computed, mass="the mass", energy="electricity"
                        ),
                    )
                )
        if indirect.attributed_emissions is not None:
            computed = indirect.attributed_emissions / self.activity_level
            if not tolerance.close(given, computed):
                problems.append(
                    (
                        field,
                        f"{given:g} tCO2e/t given, but indirect attributedEmissions / netMass = "
                        f"{computed:.6g}"
                        + units.factor_1000_hint(given, computed, mass="activityData.netMass"),
                    )
                )
        if indirect.electricity_consumed is not None and intensity is not None:
            computed = indirect.electricity_consumed / self.activity_level
            if not tolerance.close(intensity, computed):
                problems.append(
                    (
                        "indirectEmissions.electricityConsumedMwhPerTonnesGood",
                        f"{intensity:g} MWh/t given, but electricityConsumed / netMass = "
                        f"{computed:.6g}"
                        + units.factor_1000_hint(
                            intensity, computed, mass="activityData.netMass", energy="electricity"
                        ),
                    )
                )
        if given == 0 and not (factor == 0 or intensity == 0):
            problems.append(
                (
                    field,
                    "a zero indirect SEE needs a zero emission factor or zero electricity stated: "
                    "a missing figure is not zero (declare it in missingData instead)",
                )
            )

    def _check_quality(self, problems: list[tuple[str, str]]) -> None:
        defaults = self.methodology is Methodology.DEFAULT_VALUES
        tier_default = self.data_quality_tier is DataQualityTier.DEFAULT
        if defaults and not tier_default:
            problems.append(
                ("dataQualityTier", "a record of methodology 'defaultValues' has tier 'default'")
            )
        if tier_default and not defaults:
            problems.append(
                ("methodology", "tier 'default' is for records of methodology 'defaultValues'")
            )
        if defaults and self.default_value_source is None:
            problems.append(
                ("defaultValueSource", "default values must name their source (act, country, CN)")
            )
        if not defaults and self.default_value_source is not None:
            problems.append(
                ("defaultValueSource", "only a record of methodology 'defaultValues' names one")
            )
        if (
            self.data_quality_tier is DataQualityTier.VERIFIED_MEASURED
            and self.attestation_of_conformance is None
        ):
            problems.append(
                (
                    "attestationOfConformance",
                    "tier 'verifiedMeasured' needs the verifier's attestation",
                )
            )

    def _check_gaps(self, problems: list[tuple[str, str]]) -> None:
        declared = [m.field for m in self.missing_data]
        for item in set(declared):
            if declared.count(item) > 1:
                problems.append(("missingData", f"{item} is declared missing twice"))
        if MissingItem.INDIRECT_EMISSIONS in declared and self.indirect_emissions is not None:
            problems.append(("missingData", "indirectEmissions is declared missing but given"))
        if MissingItem.PRECURSORS in declared and self.precursors:
            problems.append(("missingData", "precursors are declared missing but given"))
        if (
            _indirect_counts(self.cn_code)
            and self.indirect_emissions is None
            and MissingItem.INDIRECT_EMISSIONS not in declared
        ):
            problems.append(
                (
                    "indirectEmissions",
                    f"indirect emissions count for {self.sector} (CN {self.cn_code}): give them, "
                    "or declare them in missingData with the reason",
                )
            )

    def _check_location(self, problems: list[tuple[str, str]]) -> None:
        if (self.latitude is None) != (self.longitude is None):
            problems.append(("latitude", "latitude and longitude come together"))
        if self.un_lo_code is None and self.latitude is None:
            problems.append(("unLoCode", "the installation needs a UN/LOCODE or coordinates"))
        if self.un_lo_code is not None and not self.un_lo_code.startswith(self.country_code):
            problems.append(
                (
                    "unLoCode",
                    f"{self.un_lo_code} is not in the installation's country {self.country_code}",
                )
            )

    def _check_evidence(self, problems: list[tuple[str, str]]) -> None:
        hashes = [d.sha256 for d in self.evidence_documents]
        if len(set(hashes)) != len(hashes):
            problems.append(("evidenceDocuments", "the same document hash is listed twice"))
        indirect = self.indirect_emissions
        if indirect is not None and indirect.emission_factor_tonnes_co2_per_mwh == 0:
            kinds = {d.kind for d in self.evidence_documents}
            if not kinds & {EvidenceKind.PPA, EvidenceKind.GUARANTEE_OF_ORIGIN}:
                problems.append(
                    (
                        "evidenceDocuments",
                        "a zero emission factor for electricity needs a PPA or guarantee of origin",
                    )
                )


def _dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def validation_problems(error: ValidationError) -> list[tuple[str, str]]:
    """(dotted field, reason) of every error, cross-field problems expanded one by one."""
    problems: list[tuple[str, str]] = []
    for item in error.errors(include_url=False):
        prefix = _dotted(item["loc"])
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, CrossFieldError):
            for field, reason in cause.problems:
                problems.append((f"{prefix}.{field}" if prefix else field, reason))
            continue
        message = item["msg"].removeprefix("Value error, ")
        problems.append((prefix or "(record)", message))
    return problems


def parse_record(document: Any, *, tolerance: Tolerance | None = None) -> EmissionsRecord:
    """Validate one record (JSON-like document, KIT field names); raises pydantic's ValidationError."""
    context = {"tolerance": tolerance} if tolerance is not None else None
    return EmissionsRecord.model_validate(document, context=context)


def record_document(record: EmissionsRecord) -> dict[str, Any]:
    """The record as JSON data in canonical units; absent figures and empty lists are left out.

    Leaving them out (rather than writing null or []) gives one canonical form per record, and an
    absent figure can never be read back as a zero.
    """
    return record.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
