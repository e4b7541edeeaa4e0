"""GraphQL for importers: ``declarationPreview`` and ``costScenarios`` (issue 5).

``DeclarationQuery`` is merged into the schema's Query (strawberry.tools.merge_types).

Precision: money and emissions are strings of exact Decimals (e.g. "188.320"), in and out, because
GraphQL's Float is a binary double and a filed figure must be reproducible to the digit. Scenario
costs are statistics (NumPy floats) and are also given as strings, rounded to cents.

Actual data per import line comes either explicitly (``seeDirect`` + ``seeIndirect``) or from a hub
record (``recordId``): the resolver reads it through ``cbamhub.vault.reading.record_with_proof`` with
the router of ``info.context["router"]``, only if the reader's policy decision shows it the SEE, uses its ``see_direct``/``see_indirect`` and lists the
record's ledger commitment among the declaration's commitments. Invalid input is a GraphQLError
with ``extensions.code`` BAD_USER_INPUT.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from cbamhub.jurisdictions import (
    AnnualDeclaration,
    ImportLine,
    LineResult,
    Rulebook,
    certificate_price,
    declare,
    load_rulebook,
)
from cbamhub.jurisdictions.chart import cost_chart
from cbamhub.jurisdictions.documents import decimal_text
from cbamhub.jurisdictions.inputs import InputError, parse_line
from cbamhub.jurisdictions.scenarios import ScenarioInputs, run_scenarios
from cbamhub.jurisdictions.see import SEE
from cbamhub.ledger.log import LogError
from cbamhub.ledger.statements import Statement
from cbamhub.vault import reading
from cbamhub.vault.errors import VaultError
from graphql import GraphQLError
from strawberry.types import Info

from cbamhub.access import ref_of_stored

from .errors import graphql_error
from .record_reads import decide

__all__ = [
    "CarbonPriceInput",
    "CostScenarios",
    "DeclarationLine",
    "DeclarationPreview",
    "DeclarationQuery",
    "ImportLineInput",
    "ScenarioInput",
]

MAX_LINES = 50_000  # the benchmark's annual declaration size
MAX_PATHS = 100_000
_BOOK: Rulebook | None = None


def _book() -> Rulebook:
    global _BOOK
    if _BOOK is None:
        _BOOK = load_rulebook()
    return _BOOK


def bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


@strawberry.input(description="Carbon price paid in the country of origin (Art. 9 evidence).")
class CarbonPriceInput:
    scheme: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2.")
    year: int
    currency: str = strawberry.field(description="ISO 4217.")
    price_per_tco2e: str = strawberry.field(description="Decimal string, in currency per tCO2e.")
    priced_emissions_per_t: str = strawberry.field(
        description="Decimal string: tCO2e per tonne of good on which the price was paid."
    )
    rebate_per_tco2e: str | None = None
    certified_by: str | None = strawberry.field(
        default=None, description="Independent person certifying the price (Art. 9(2))."
    )
    legal_act: str | None = None
    commitment: str | None = strawberry.field(
        default=None, description="Ledger commitment of the evidence record."
    )


@strawberry.input(description="One customs import line; numbers are decimal strings.")
class ImportLineInput:
    line_id: str
    cn_code: str = strawberry.field(description="CN code, 4 to 8 digits (spaces allowed).")
    net_mass: str = strawberry.field(description="Tonnes (MWh for electricity), decimal string.")
    origin: str = strawberry.field(description="Country of origin, ISO 3166-1 alpha-2.")
    import_date: date
    see_direct: str | None = strawberry.field(
        default=None, description="Actual direct SEE, tCO2e/t (with seeIndirect)."
    )
    see_indirect: str | None = strawberry.field(
        default=None, description="Actual indirect SEE, tCO2e/t (with seeDirect)."
    )
    record_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A hub record supplying the actual SEE and its commitment (not with seeDirect).",
    )
    installation_id: str | None = None
    route: str | None = strawberry.field(
        default=None, description="Production route letter of Impl. Reg. 2025/2621."
    )
    commitment: str | None = strawberry.field(
        default=None, description="Ledger commitment of the supplier record used."
    )
    carbon_price: CarbonPriceInput | None = None


@strawberry.type(description="De minimis test of Art. 2(3a) (tonnes).")
class DeMinimisResult:
    counted_net_mass: str
    threshold: str
    exempt: bool


@strawberry.type(description="One line of a declaration; emissions tCO2e, money EUR, as decimals.")
class DeclarationLine:
    line_id: str
    cn_code: str
    sector: str
    origin: str
    net_mass: str
    basis: str = strawberry.field(
        description="actual | default | exempt-origin | outside-scope | gap"
    )
    rule_version: str
    default_value: str | None
    see_direct: str
    see_indirect: str
    embedded_direct: str
    embedded_indirect: str
    embedded: str
    free_allocation_adjustment: str
    deduction_eur: str
    deduction_certificates: str
    certificates: str
    certificate_price: str | None
    cost_eur: str | None
    gaps: list[str]
    commitment: str | None
    evidence_commitment: str | None

    @classmethod
    def of(cls, r: LineResult) -> DeclarationLine:
        def opt(v: Decimal | None) -> str | None:
            return None if v is None else decimal_text(v)

        return cls(
            line_id=r.line_id,
            cn_code=r.cn,
            sector=r.sector,
            origin=r.origin,
            net_mass=decimal_text(r.net_mass),
            basis=r.basis,
            rule_version=r.rule_version,
            default_value=r.default_value,
            see_direct=decimal_text(r.see_used.direct),
            see_indirect=decimal_text(r.see_used.indirect),
            embedded_direct=decimal_text(r.embedded_direct),
            embedded_indirect=decimal_text(r.embedded_indirect),
            embedded=decimal_text(r.embedded),
            free_allocation_adjustment=decimal_text(r.faa),
            deduction_eur=decimal_text(r.deduction_eur),
            deduction_certificates=decimal_text(r.deduction_certificates),
            certificates=decimal_text(r.certificates),
            certificate_price=opt(r.certificate_price),
            cost_eur=opt(r.cost_eur),
            gaps=list(r.gaps),
            commitment=r.commitment,
            evidence_commitment=r.evidence_commitment,
        )


@strawberry.type(description="An annual CBAM declaration computed from import lines, not filed.")
class DeclarationPreview:
    year: int
    known_at: datetime = strawberry.field(description="Rule knowledge time used (newest version).")
    rule_versions: list[str]
    de_minimis: DeMinimisResult
    embedded_emissions: str
    free_allocation_adjustment: str
    deduction_certificates: str
    certificates: str
    cost_eur: str | None = strawberry.field(
        description="Null while a line with certificates has no published certificate price."
    )
    complete: bool = strawberry.field(description="False when a figure is absent (see gaps).")
    gaps: list[str]
    commitments: list[str] = strawberry.field(
        description="Ledger commitments of the records used (supplier data, Art. 9 evidence)."
    )
    lines: list[DeclarationLine]

    @classmethod
    def of(cls, d: AnnualDeclaration) -> DeclarationPreview:
        cost = d.cost_eur
        return cls(
            year=d.year,
            known_at=d.known_at,
            rule_versions=list(d.rule_versions),
            de_minimis=DeMinimisResult(
                counted_net_mass=decimal_text(d.de_minimis.counted_mass_t),
                threshold=decimal_text(d.de_minimis.threshold_t),
                exempt=d.de_minimis.exempt,
            ),
            embedded_emissions=decimal_text(d.embedded_emissions),
            free_allocation_adjustment=decimal_text(d.faa),
            deduction_certificates=decimal_text(d.deduction_certificates),
            certificates=decimal_text(d.certificates),
            cost_eur=None if cost is None else decimal_text(cost),
            complete=d.complete,
            gaps=list(d.gaps),
            commitments=list(d.commitments),
            lines=[DeclarationLine.of(r) for r in d.lines],
        )


@strawberry.input(description="Monte Carlo inputs; floats, as these are statistics, not filings.")
class ScenarioInput:
    annual_mass_t: float
    see_actual: float = strawberry.field(description="tCO2e/t with verified supplier data.")
    see_default: float = strawberry.field(description="tCO2e/t default incl. the mark-up.")
    start_price: float | None = strawberry.field(
        default=None, description="EUR/t; default: the Q1 2026 certificate price of the rule data."
    )
    benchmark: float = strawberry.field(
        default=0.0,
        description="CBAM benchmark tCO2e/t (absent from the reference: 0 = upper bound).",
    )
    drift: float = 0.0
    volatility: float = 0.3
    actual_share_start: float = 0.0
    actual_share_gain: float = 0.1
    paths: int = 10_000
    seed: int = 0
    percentiles: list[int] = strawberry.field(default_factory=lambda: [5, 50, 95])


@strawberry.type
class CostPercentile:
    percentile: int
    cost_eur: list[str] = strawberry.field(description="Per year, EUR rounded to cents.")


@strawberry.type(description="Certificate cost percentiles per year to 2034, with an SVG chart.")
class CostScenarios:
    years: list[int]
    start_price: str
    certificates: list[str] = strawberry.field(description="Certificates per year (deterministic).")
    percentiles: list[CostPercentile]
    chart_svg: str = strawberry.field(description="The chart as SVG text (no external assets).")


def _line_mapping(ln: ImportLineInput) -> dict[str, Any]:
    row: dict[str, Any] = {
        "line_id": ln.line_id,
        "cn": ln.cn_code,
        "net_mass": ln.net_mass,
        "origin": ln.origin,
        "import_date": ln.import_date.isoformat(),
        "see_direct": ln.see_direct,
        "see_indirect": ln.see_indirect,
        "installation_id": ln.installation_id,
        "route": ln.route,
        "commitment": ln.commitment,
    }
    cp = ln.carbon_price
    if cp is not None:
        row["carbon_price"] = {
            "scheme": cp.scheme,
            "country": cp.country,
            "year": cp.year,
            "currency": cp.currency,
            "price_per_tco2e": cp.price_per_tco2e,
            "priced_emissions_per_t": cp.priced_emissions_per_t,
            "rebate_per_tco2e": cp.rebate_per_tco2e,
            "certified_by": cp.certified_by,
            "legal_act": cp.legal_act,
            "commitment": cp.commitment,
        }
    return row


async def _with_record(info: Info, line: ImportLine, record_id: str) -> ImportLine:
    """Actual SEE and commitment of a hub record the reader may see the figures of."""
    router = info.context.get("router") if isinstance(info.context, Mapping) else None
    if router is None:
        raise bad_input(f"line {line.line_id}: recordId needs a hub (no router in this context)")
    try:
        stored = await reading.record_with_proof(router, record_id)
    except (VaultError, LogError) as error:
        raise graphql_error(error) from error
    decision = await decide(info, ref_of_stored(stored))
    if not (decision.permits("direct_emissions") and decision.permits("indirect_emissions")):
        raise GraphQLError(
            f"line {line.line_id}: your access to record {record_id} does not include its specific "
            "embedded emissions",
            extensions={"code": "FORBIDDEN"},
        )
    record = stored.record
    if record.cn_code[: len(line.cn)] != line.cn:
        raise bad_input(
            f"line {line.line_id}: record {record_id} is for CN {record.cn_code}, not {line.cn}"
        )
    indirect = record.indirect_emissions
    declared_missing = {m.field.value for m in record.missing_data}
    # The record model allows a record without indirect emissions only where they do not count, or
    # with the gap declared; a declared gap is never read as zero: the line falls back to defaults.
    use_defaults = indirect is None and "indirectEmissions" in declared_missing
    return ImportLine(
        line.line_id, line.cn, line.net_mass, line.origin, line.import_date,
        actual_see=None
        if use_defaults
        else SEE(
            Decimal(str(record.direct_emissions.specific_embedded_emissions_direct)),
            Decimal(0)
            if indirect is None
            else Decimal(str(indirect.specific_embedded_emissions_indirect)),
        ),
        installation_id=line.installation_id or record.installation_id,
        route=line.route, carbon_price=line.carbon_price,
        commitment=Statement.parse(stored.evidence.entry).commitment,
    )  # fmt: skip


def _money(v: float) -> str:
    return f"{v:.2f}"


@strawberry.type
class DeclarationQuery:
    @strawberry.field(description="The annual declaration these import lines would give.")
    async def declaration_preview(
        self, info: Info, lines: list[ImportLineInput], year: int
    ) -> DeclarationPreview:
        if not 2026 <= year <= 2100:
            raise bad_input(f"year {year}: the definitive period starts in 2026")
        if len(lines) > MAX_LINES:
            raise bad_input(f"at most {MAX_LINES} lines per preview")
        parsed: list[ImportLine] = []
        for i, ln in enumerate(lines):
            if ln.record_id is not None and (ln.see_direct or ln.see_indirect or ln.commitment):
                raise bad_input(
                    f"line {i}: recordId supplies the SEE and commitment; do not also give them"
                )
            try:
                line = parse_line(_line_mapping(ln), f"line {i}")
            except InputError as error:
                raise bad_input(str(error)) from error
            if ln.record_id is not None:
                line = await _with_record(info, line, str(ln.record_id))
            parsed.append(line)
        if len({ln.line_id for ln in parsed}) != len(parsed):
            raise bad_input("lineId values must be unique")
        book = _book()
        known = max(v.recorded_at for v in book.versions)
        try:
            decl = declare("preview", year, parsed, book, known_at=known)
        except ValueError as error:
            raise bad_input(str(error)) from error
        return DeclarationPreview.of(decl)

    @strawberry.field(description="Monte Carlo certificate cost percentiles per year to 2034.")
    def cost_scenarios(self, input: ScenarioInput) -> CostScenarios:
        numbers = (input.annual_mass_t, input.see_actual, input.see_default, input.benchmark,
                   input.volatility, input.drift, input.actual_share_start, input.actual_share_gain)  # fmt: skip
        if not all(math.isfinite(x) for x in numbers):
            raise bad_input("scenario inputs must be finite numbers")
        if min(input.annual_mass_t, input.see_actual, input.see_default, input.benchmark) < 0:
            raise bad_input("mass, SEE and benchmark must not be negative")
        if input.volatility < 0 or not 0 <= input.actual_share_start <= 1:
            raise bad_input("volatility must be >= 0 and actualShareStart within [0, 1]")
        if not 1 <= input.paths <= MAX_PATHS:
            raise bad_input(f"paths must be between 1 and {MAX_PATHS}")
        if not input.percentiles or any(not 0 <= p <= 100 for p in input.percentiles):
            raise bad_input("percentiles must be a non-empty list within [0, 100]")
        book = _book()
        start = input.start_price
        if start is None:  # Q1 2026 certificate price (Impl. Reg. 2025/2548), from the rule data
            start = float(certificate_price(book.at(date(2026, 1, 1)), date(2026, 1, 1))[0])
        elif not math.isfinite(start) or start <= 0:
            raise bad_input("startPrice must be a positive number")
        result = run_scenarios(
            ScenarioInputs(
                annual_mass_t=input.annual_mass_t,
                see_actual=input.see_actual,
                see_default=input.see_default,
                start_price=start,
                benchmark=input.benchmark,
                drift=input.drift,
                volatility=input.volatility,
                actual_share_start=input.actual_share_start,
                actual_share_gain=input.actual_share_gain,
            ),
            paths=input.paths,
            seed=input.seed,
            percentiles=tuple(sorted(set(input.percentiles))),
            book=book,
        )
        return CostScenarios(
            years=list(result.years),
            start_price=repr(start),
            certificates=[f"{float(c):.6f}" for c in result.certificates],
            percentiles=[
                CostPercentile(
                    percentile=p, cost_eur=[_money(float(v)) for v in result.cost_eur[i]]
                )
                for i, p in enumerate(result.percentiles)
            ],
            chart_svg=cost_chart(result, "svg").decode("utf-8"),
        )
