"""The importer's annual CBAM declaration (Reg. 2023/956 Arts. 6, 7, 9, 22, 31 as amended by 2025/2083).

Per import line: embedded emissions (actual SEE, else the 2025/2621 default with the year's mark-up;
indirect only outside Annex II), free allocation adjustment FAA = m x CBAM benchmark x CBAM factor
[x CSCF] (Impl. Reg. 2025/2620 - benchmarks ABSENT from the reference, so FAA is reported as a gap),
the Art. 9 deduction, certificates = max(0, EE - FAA - deduction) and their cost at the certificate
price of the line's import date. Per importer and year: the 50 t de minimis test (Art. 2(3a)).

Decimal throughout, nothing rounded: the filed figures are the exact sums; presentation rounds.
Each line resolves its own rule version by import date, so a rule change mid-year applies from its
valid_from; ``known_at`` fixes what the hub knew, so a past declaration is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from .art9 import CarbonPricePaid, deduction_for_line
from .defaults import DefaultValueTable, load_default_table
from .pricing import certificate_price
from .rulebook import FigureMissing, Rulebook, RuleVersion
from .scope import counts_indirect, in_annex_i, normalise_cn, sector_of, under_de_minimis_threshold
from .see import SEE

__all__ = [
    "AnnualDeclaration",
    "DeMinimis",
    "ImportLine",
    "LineResult",
    "declare",
]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ImportLine:
    """One customs import line. ``net_mass`` in tonnes (MWh for electricity, CN 2716)."""

    line_id: str
    cn: str
    net_mass: Decimal
    origin: str  # ISO 3166-1 alpha-2
    import_date: date
    actual_see: SEE | None = None  # verified actual data of the installation, if any
    installation_id: str | None = None
    route: str | None = None  # production route letter of 2025/2621 (A grey clinker, ...)
    carbon_price: CarbonPricePaid | None = None
    commitment: str | None = None  # opaque ledger commitment of the supplier record used


@dataclass(frozen=True, slots=True)
class LineResult:
    line_id: str
    cn: str
    sector: str
    origin: str
    net_mass: Decimal
    basis: str  # "actual" | "default" | "exempt-origin" | "outside-scope" | "gap"
    rule_version: str
    see_used: SEE
    embedded_direct: Decimal
    embedded_indirect: Decimal  # counted indirect (0 for Annex II goods)
    faa: Decimal  # free allocation adjustment in tCO2e (certificates)
    deduction_eur: Decimal
    deduction_certificates: Decimal
    certificates: Decimal
    certificate_price: Decimal | None
    cost_eur: Decimal | None
    default_value: str | None  # e.g. "CN/7208/C" with fallback marker
    gaps: tuple[str, ...]
    commitment: str | None
    # ledger commitment of the Art. 9 carbon-price evidence, when it reduced this line's certificates
    evidence_commitment: str | None = None

    @property
    def embedded(self) -> Decimal:
        return self.embedded_direct + self.embedded_indirect


@dataclass(frozen=True, slots=True)
class DeMinimis:
    """Art. 2(3a): exempt while cumulative net mass (excl. electricity, hydrogen) <= threshold."""

    counted_mass_t: Decimal
    threshold_t: Decimal
    exempt: bool


@dataclass(frozen=True, slots=True)
class AnnualDeclaration:
    importer: str
    year: int
    known_at: datetime
    lines: tuple[LineResult, ...]
    de_minimis: DeMinimis
    rule_versions: tuple[str, ...]
    gaps: tuple[str, ...] = field(default_factory=tuple)

    @property
    def embedded_emissions(self) -> Decimal:
        return sum((ln.embedded for ln in self.lines), ZERO)

    @property
    def faa(self) -> Decimal:
        return sum((ln.faa for ln in self.lines), ZERO)

    @property
    def deduction_certificates(self) -> Decimal:
        return sum((ln.deduction_certificates for ln in self.lines), ZERO)

    @property
    def certificates(self) -> Decimal:
        return sum((ln.certificates for ln in self.lines), ZERO)

    @property
    def cost_eur(self) -> Decimal | None:
        """Total cost, or None when any line with certificates has no published price yet."""
        total = ZERO
        for ln in self.lines:
            if ln.certificates > 0:
                if ln.cost_eur is None:
                    return None
                total += ln.cost_eur
        return total

    @property
    def complete(self) -> bool:
        return not self.gaps

    @property
    def commitments(self) -> tuple[str, ...]:
        """Commitments of the records used (supplier data, then Art. 9 evidence), each once."""
        found = [c for ln in self.lines for c in (ln.commitment, ln.evidence_commitment) if c]
        return tuple(dict.fromkeys(found))


class _Compiled:
    """Per-rule-version constants, computed once (the 50,000-line benchmark needs this)."""

    def __init__(self, rules: RuleVersion) -> None:
        self.rules = rules
        self.annex = rules.strings("scope.annex_i_cn_prefixes")
        self.exempt_origins = frozenset(rules.strings("scope.exempt_origin_countries"))
        self.prices: dict[date, Decimal | None] = {}
        self.scope: dict[str, tuple[bool, str, bool, bool]] = {}

    def cn_info(self, cn: str) -> tuple[bool, str, bool, bool]:
        hit = self.scope.get(cn)
        if hit is None:
            inside = in_annex_i(cn, self.rules)
            hit = (
                inside,
                sector_of(cn, self.rules) if inside else "",
                counts_indirect(cn, self.rules),
                under_de_minimis_threshold(cn, self.rules),
            )
            self.scope[cn] = hit
        return hit

    def price(self, day: date) -> Decimal | None:
        if day not in self.prices:
            try:
                self.prices[day] = certificate_price(self.rules, day)[0]
            except FigureMissing:
                self.prices[day] = None
        return self.prices[day]

    def factor(self, year: int) -> Decimal:
        return self.rules.decimal(f"cbam_factor.{year}")

    def benchmark(self, cn: str, column: str, route: str | None) -> Decimal | None:
        for n in (8, 6, 4):
            for key in (
                f"cbam_benchmark.{column}.{cn[:n]}.{route}",
                f"cbam_benchmark.{column}.{cn[:n]}",
            ):
                fig = self.rules.get(key)
                if fig is not None and isinstance(fig.value, Decimal):
                    return fig.value
        return None


def _line(
    ln: ImportLine,
    c: _Compiled,
    table: DefaultValueTable,
    counted: bool,
) -> LineResult:
    rules = c.rules
    cn = normalise_cn(ln.cn)
    inside, sector, indirect_counts, _ = c.cn_info(cn)
    gaps: list[str] = []
    zero_see = SEE(ZERO, ZERO)

    def skip(basis: str, why: str | None) -> LineResult:
        return LineResult(
            ln.line_id, cn, sector, ln.origin, ln.net_mass, basis, rules.version, zero_see,
            ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, None, None, None, (why,) if why else (), ln.commitment,
        )  # fmt: skip

    if not inside:
        return skip("outside-scope", None)
    if ln.origin in c.exempt_origins:
        return skip("exempt-origin", None)

    year = ln.import_date.year
    default_ref: str | None = None
    if ln.actual_see is not None:
        basis = "actual"
        see = SEE(ln.actual_see.direct, ln.actual_see.indirect if indirect_counts else ZERO)
    else:
        try:
            dv = table.lookup(ln.origin, cn, ln.route)
            dv_total = dv.total_with_markup(year)
            factor = dv.markup_factor(year) if dv.total else Decimal(1)
        except FigureMissing as e:
            return skip("gap", str(e))
        basis = "default"
        # The mark-up applies to the total (cbam_facts.md §4); the direct part carries the same factor
        # and the indirect part is the rest, so the two always add up to the annex's marked-up total.
        direct = dv.direct * factor
        see = SEE(direct, dv_total - direct) if indirect_counts else SEE(direct, ZERO)
        default_ref = f"{dv.country}/{dv.cn}/{dv.route or '-'}" + (
            " (fallback)" if dv.fallback else ""
        )
    e_dir = ln.net_mass * see.direct
    e_ind = ln.net_mass * see.indirect
    embedded = e_dir + e_ind

    if not counted:  # importer under the de minimis threshold: declared, no certificates
        return LineResult(
            ln.line_id, cn, sector, ln.origin, ln.net_mass, basis, rules.version, see, e_dir, e_ind,
            ZERO, ZERO, ZERO, ZERO, None, None, default_ref, (), ln.commitment,
        )  # fmt: skip

    column = "A" if basis == "actual" else "B"
    bm = c.benchmark(cn, column, ln.route)
    faa = ZERO
    if bm is None:
        gaps.append(
            f"CBAM benchmark (Impl. Reg. 2025/2620, column {column}) for CN {cn} absent: "
            "free allocation adjustment not applied (certificates are an upper bound)"
        )
    else:
        faa = ln.net_mass * bm * c.factor(year)
        cscf = rules.get(f"cscf.{year}")
        if cscf is not None and isinstance(cscf.value, Decimal):
            faa *= cscf.value
        else:
            gaps.append(f"CSCF for {year} absent: FAA computed without it")
    obligation = max(ZERO, embedded - faa)
    price = c.price(ln.import_date)
    ded = deduction_for_line(
        rules, ln.carbon_price, mass_t=ln.net_mass, counted_embedded=embedded,
        obligation_certificates=obligation, certificate_price_eur=price,
        uses_default_values=basis == "default",
    )  # fmt: skip
    if ded.gap:
        gaps.append(ded.gap)
    certs = max(ZERO, obligation - ded.certificates)
    if price is None:
        gaps.append(
            f"no certificate price for {ln.import_date} in the rule data (Impl. Reg. 2025/2548)"
        )
    return LineResult(
        ln.line_id, cn, sector, ln.origin, ln.net_mass, basis, rules.version, see, e_dir, e_ind, faa,
        ded.eur, ded.certificates, certs, price, None if price is None else certs * price,
        default_ref, tuple(gaps), ln.commitment,
        ln.carbon_price.commitment if ln.carbon_price is not None and ded.certificates > 0 else None,
    )  # fmt: skip


def de_minimis(lines: Iterable[ImportLine], rules: RuleVersion) -> DeMinimis:
    """Art. 2(3a) + Annex VII pt 1: cumulative net mass per importer per calendar year."""
    c = _Compiled(rules)
    threshold = rules.decimal("de_minimis.threshold_t")
    mass = ZERO
    for ln in lines:
        inside, _, _, counts = c.cn_info(normalise_cn(ln.cn))
        if inside and counts:
            mass += ln.net_mass
    inclusive = rules.flag("de_minimis.exempt_at_threshold")
    exempt = mass <= threshold if inclusive else mass < threshold
    return DeMinimis(mass, threshold, exempt)


def declare(
    importer: str,
    year: int,
    lines: Sequence[ImportLine],
    rulebook: Rulebook,
    *,
    known_at: datetime | None = None,
    table: DefaultValueTable | None = None,
) -> AnnualDeclaration:
    """Compute the annual declaration of ``importer`` for ``year`` from its import lines."""
    known = known_at or datetime.now(UTC)
    for ln in lines:
        if ln.import_date.year != year:
            raise ValueError(f"line {ln.line_id} imported {ln.import_date}, not in {year}")
        if ln.net_mass < 0:
            raise ValueError(f"line {ln.line_id}: negative net mass")
    table = table or load_default_table()
    year_rules = rulebook.at(date(year, 12, 31), known)
    dm = de_minimis(lines, year_rules)
    compiled: dict[str, _Compiled] = {}
    by_day: dict[date, _Compiled] = {}
    results: list[LineResult] = []
    for ln in lines:
        c = by_day.get(ln.import_date)
        if c is None:
            v = rulebook.at(ln.import_date, known)
            c = compiled.get(v.version) or compiled.setdefault(v.version, _Compiled(v))
            by_day[ln.import_date] = c
        cn_counts = c.cn_info(normalise_cn(ln.cn))[3]
        results.append(_line(ln, c, table, counted=not dm.exempt or not cn_counts))
    gaps = tuple(dict.fromkeys(g for r in results for g in r.gaps))
    return AnnualDeclaration(
        importer=importer,
        year=year,
        known_at=known,
        lines=tuple(results),
        de_minimis=dm,
        rule_versions=tuple(compiled),
        gaps=gaps,
    )
