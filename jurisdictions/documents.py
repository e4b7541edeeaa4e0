"""Documents an importer files or hands to its customs broker (issue 5, step 7).

- ``quarterly_report``: the CBAM registry's ``QReport`` XML (namespace and element names of
  shared/reference/cbam_facts.md §6; schema ``schemas/qreport.xsd`` written from that table).
- ``annual_declaration_xml``: the annual declaration (Reg. 2023/956 Art. 6) in the same style, in the
  hub's own namespace (the registry's definitive-period schema is not in the reference).
- ``declaration_html``: a human-readable summary, everything escaped, no external assets.
- ``declaration_json``: the same figures as canonical JSON (sorted keys) for programs.

WHY deterministic: a filed document must be reproducible from its ledger-anchored inputs, so output
is byte-identical for the same inputs (fixed ordering by line id, no clock: every date is passed in)
and each document lists the commitments of the records it used. Every XML document is validated
against its XSD before it is returned; an invalid one raises ``DocumentError`` instead.
"""

from __future__ import annotations

import html
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import xmlschema
from xmlschema.exceptions import XMLResourceExceeded

from .declaration import AnnualDeclaration, ImportLine, LineResult

__all__ = [
    "DECLARATION_NS",
    "QREPORT_NS",
    "Address",
    "Declarant",
    "DocumentError",
    "ReportHeader",
    "annual_declaration_xml",
    "decimal_text",
    "declaration_dict",
    "declaration_html",
    "declaration_json",
    "quarterly_report",
    "validate",
]

QREPORT_NS = "http://xmlns.ec.eu/BusinessObjects/CBAM/Types/V1"  # cbam_facts.md §6
DECLARATION_NS = "urn:cbamhub:jurisdictions:annual-declaration:v1"  # the hub's own
TONNES = "01"  # MeasurementUnit "01" = tonnes net mass (cbam_facts.md §6)
TCO2E = "EMU1"  # MeasurementUnit "EMU1" = tCO2e (cbam_facts.md §6)
ELECTRICITY = "2716"
_XSD = {QREPORT_NS: "qreport.xsd", DECLARATION_NS: "annual_declaration.xsd"}
# characters XML 1.0 cannot carry at all: refuse them rather than emit a document no parser reads
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class DocumentError(ValueError):
    """The inputs cannot make a valid document (the message says which input and why)."""


@dataclass(frozen=True, slots=True)
class Address:
    country: str  # ISO 3166-1 alpha-2
    city: str
    street: str | None = None
    number: str | None = None
    postcode: str | None = None


@dataclass(frozen=True, slots=True)
class Declarant:
    identification_number: str  # EORI, <= 17 characters
    name: str  # <= 70 characters
    address: Address
    role: str = "01"  # "01" importer (cbam_facts.md §6, per formist.ai FAQ: UNCONFIRMED)


@dataclass(frozen=True, slots=True)
class ReportHeader:
    """What the declarant states about a quarterly report; dates are inputs, never the clock."""

    report_id: str
    submission_date: date
    declarant: Declarant
    nca_reference: str  # NationalCompetentAuth/ReferenceNumber
    signature_date: date
    signature_place: str
    signatory: str
    position: str
    global_data_confirmation: bool = True
    use_of_data_confirmation: bool = True


@cache
def _schema(namespace: str) -> xmlschema.XMLSchema:
    ref = resources.files(__package__).joinpath("schemas", _XSD[namespace])
    with resources.as_file(ref) as path:
        return xmlschema.XMLSchema(str(path))


def validate(document: bytes) -> None:
    """Validate an XML document against the XSD of its root namespace; DocumentError if invalid."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as error:
        raise DocumentError(f"not well-formed XML: {error}") from error
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if namespace not in _XSD:
        raise DocumentError(f"no schema for namespace {namespace!r}")
    try:
        resource = xmlschema.XMLResource(io.BytesIO(document))
    except XMLResourceExceeded:
        # an annual declaration of 50,000 lines has ~1.5 million elements, past xmlschema's
        # in-memory limit; a lazy resource streams the tree instead (about twice as slow)
        resource = xmlschema.XMLResource(io.BytesIO(document), lazy=True)
    errors = [e.reason or str(e) for e in _schema(namespace).iter_errors(resource)]
    if errors:
        raise DocumentError(f"invalid against {_XSD[namespace]}: " + "; ".join(errors[:5]))


# --- building blocks -----------------------------------------------------------------------------


def decimal_text(value: Decimal) -> str:
    """xs:decimal / JSON text of an exact figure: fixed point (never 1E+1), no negative zero."""
    text = format(value, "f")
    return "0" if text.lstrip("-").strip("0.") == "" else text


_num = decimal_text


def _text(value: str, what: str) -> str:
    if _ILLEGAL_XML.search(value):
        raise DocumentError(f"{what} contains characters XML cannot carry")
    return value


class _Builder:
    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def el(self, parent: ET.Element | None, tag: str, text: str | None = None) -> ET.Element:
        name = f"{{{self.ns}}}{tag}"
        node = ET.Element(name) if parent is None else ET.SubElement(parent, name)
        if text is not None:
            node.text = _text(text, tag)
        return node

    def info(self, parent: ET.Element, tag: str, text: str) -> None:
        self.el(self.el(parent, tag), "AdditionalInformation", text)

    def emissions(self, parent: ET.Element, tag: str, direct: Decimal, indirect: Decimal) -> None:
        node = self.el(parent, tag)
        self.el(node, "OverallEmissions", _num(direct + indirect))
        self.el(node, "TotalDirect", _num(direct))
        self.el(node, "TotalIndirect", _num(indirect))
        self.el(node, "MeasurementUnit", TCO2E)

    def finish(self, root: ET.Element) -> bytes:
        ET.register_namespace("", self.ns)
        ET.indent(root, space="  ")
        out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        doc = out + b"\n"
        validate(doc)
        return doc


def _address(b: _Builder, parent: ET.Element, tag: str, a: Address) -> None:
    node = b.el(parent, tag)
    b.el(node, "Country", a.country)
    b.el(node, "City", a.city)
    if a.street:
        b.el(node, "Street", a.street)
    if a.number:
        b.el(node, "Number", a.number)
    if a.postcode:
        b.el(node, "Postcode", a.postcode)


def _commitments_text(commitments: Sequence[str]) -> str:
    return "ledger commitments of the records used: " + (", ".join(commitments) or "none")


# --- the quarterly report ------------------------------------------------------------------------


def quarterly_report(
    declaration: AnnualDeclaration,
    lines: Sequence[ImportLine],
    quarter: int,
    header: ReportHeader,
) -> bytes:
    """QReport XML of the goods of ``declaration`` imported in ``quarter`` (1-4).

    ``lines`` are the import lines the declaration was computed from (the report needs their import
    date, installation and carbon-price evidence). One ImportedGood per CBAM line, ordered by line id;
    lines outside Annex I or from exempt origins are not reported. Refused (DocumentError): a quarter
    without CBAM goods, a line without SEE (a gap), electricity (its MeasurementUnit code is not in
    the reference).
    """
    if quarter not in (1, 2, 3, 4):
        raise DocumentError(f"quarter {quarter} is not 1-4")
    results = {r.line_id: r for r in declaration.lines}
    chosen: list[tuple[ImportLine, LineResult]] = []
    for ln in lines:
        res = results.get(ln.line_id)
        if res is None:
            raise DocumentError(f"line {ln.line_id} is not in the declaration")
        if (
            ln.import_date.year != declaration.year
            or (ln.import_date.month - 1) // 3 + 1 != quarter
        ):
            continue
        if res.basis in ("outside-scope", "exempt-origin"):
            continue
        if res.basis == "gap":
            raise DocumentError(f"line {ln.line_id} has no emissions to report: {res.gaps[0]}")
        if res.cn.startswith(ELECTRICITY):
            raise DocumentError(
                f"line {ln.line_id}: electricity's QReport measurement unit is not in the reference"
            )
        chosen.append((ln, res))
    if not chosen:
        raise DocumentError(f"no CBAM goods imported in Q{quarter} {declaration.year}")
    chosen.sort(key=lambda pair: pair[0].line_id)

    b = _Builder(QREPORT_NS)
    root = b.el(None, "QReport")
    b.el(root, "SubmissionDate", header.submission_date.isoformat())
    b.el(root, "ReportId", header.report_id)
    b.el(root, "ReportingPeriod", f"Q{quarter}")
    b.el(root, "Year", str(declaration.year))
    b.el(root, "TotalImported", str(len(chosen)))
    d = b.el(root, "Declarant")
    b.el(d, "IdentificationNumber", header.declarant.identification_number)
    b.el(d, "Name", header.declarant.name)
    b.el(d, "Role", header.declarant.role)
    _address(b, d, "ActorAddress", header.declarant.address)
    b.el(b.el(root, "NationalCompetentAuth"), "ReferenceNumber", header.nca_reference)
    conf = b.el(b.el(root, "Signatures"), "ReportConfirmation")
    b.el(conf, "GlobalDataConfirmation", str(header.global_data_confirmation).lower())
    b.el(conf, "UseOfDataConfirmation", str(header.use_of_data_confirmation).lower())
    b.el(conf, "SignatureDate", header.signature_date.isoformat())
    b.el(conf, "SignaturePlace", header.signature_place)
    b.el(conf, "Signature", header.signatory)
    b.el(conf, "PositionOfPersonSending", header.position)
    b.info(root, "Remarks", _commitments_text(_commitments([r for _, r in chosen])))
    for item, (ln, res) in enumerate(chosen, start=1):
        _imported_good(b, root, item, ln, res)
    return b.finish(root)


def _imported_good(
    b: _Builder, root: ET.Element, item: int, ln: ImportLine, res: LineResult
) -> None:
    good = b.el(root, "ImportedGood")
    b.el(good, "ItemNumber", str(item))
    code = b.el(good, "CommodityCode")
    if len(res.cn) != 8:
        raise DocumentError(
            f"line {ln.line_id}: the QReport needs an 8-digit CN code, not {res.cn}"
        )
    b.el(code, "HsCode", res.cn[:6])
    b.el(code, "CnCode", res.cn[6:])
    b.el(b.el(good, "OriginCountry"), "Country", res.origin)
    qty = b.el(good, "ImportedQuantity")
    b.el(qty, "SequenceNumber", "1")
    b.el(b.el(qty, "ImportArea"), "ImportArea", "EU")
    if res.commitment:
        b.info(qty, "SpecialReferences", f"ledger commitment {res.commitment}")
    measure = b.el(good, "MeasureImported")
    b.el(measure, "NetMass", _num(res.net_mass))
    b.el(measure, "MeasurementUnit", TONNES)
    total = b.el(good, "TotalEmissions")
    # EmissionsPerUnit = OverallEmissions / NetMass (cbam_facts.md §6), i.e. the SEE used, exactly
    b.el(total, "EmissionsPerUnit", _num(res.see_used.total))
    b.el(total, "OverallEmissions", _num(res.embedded))
    b.el(total, "TotalDirect", _num(res.embedded_direct))
    b.el(total, "TotalIndirect", _num(res.embedded_indirect))
    b.el(total, "MeasurementUnit", TCO2E)
    basis = (
        "actual data of the installation"
        if res.basis == "actual"
        else f"default value {res.default_value} (Impl. Reg. 2025/2621 with the {ln.import_date.year} mark-up)"
    )
    b.info(good, "Remarks", f"line {res.line_id}; {basis}; rule version {res.rule_version}")
    ge = b.el(good, "GoodsEmissions")
    b.el(ge, "SequenceNumber", "1")
    b.el(ge, "ProductionCountry", res.origin)
    if ln.installation_id:
        b.el(b.el(ge, "Installation"), "InstallationId", ln.installation_id)
    produced = b.el(ge, "ProducedMeasure")
    b.el(produced, "NetMass", _num(res.net_mass))
    b.el(produced, "MeasurementUnit", TONNES)
    b.emissions(ge, "InstallationEmissions", res.embedded_direct, res.embedded_indirect)
    direct = b.el(ge, "DirectEmissions")
    b.el(direct, "SpecificEmbeddedEmissions", _num(res.see_used.direct))
    b.el(direct, "MeasurementUnit", TCO2E)
    if res.embedded_indirect > 0:
        indirect = b.el(ge, "IndirectEmissions")
        b.el(indirect, "SpecificEmbeddedEmissions", _num(res.see_used.indirect))
        b.el(indirect, "MeasurementUnit", TCO2E)
    cp = ln.carbon_price
    if cp is not None:
        due = b.el(ge, "CarbonPriceDue")
        b.el(due, "SequenceNumber", "1")
        if cp.legal_act:
            b.el(due, "LegalActDescription", cp.legal_act)
        priced = min(res.net_mass * cp.priced_emissions_per_t, res.embedded)
        b.el(due, "Amount", _num(priced * cp.effective_price))
        b.el(due, "Currency", cp.currency)
        if res.deduction_eur > 0:
            b.el(due, "EURO", _num(res.deduction_eur))
        b.el(due, "Country", cp.country)


# --- the annual declaration ----------------------------------------------------------------------


def _sorted_lines(declaration: AnnualDeclaration) -> list[LineResult]:
    return sorted(declaration.lines, key=lambda r: r.line_id)


def _commitments(results: Sequence[LineResult]) -> tuple[str, ...]:
    """Commitments of the records used, in document order, each once."""
    return tuple(
        dict.fromkeys(c for r in results for c in (r.commitment, r.evidence_commitment) if c)
    )


def _gaps(results: Sequence[LineResult]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(g for r in results for g in r.gaps))


def annual_declaration_xml(declaration: AnnualDeclaration, declaration_id: str) -> bytes:
    """The annual declaration as XML (schemas/annual_declaration.xsd), lines ordered by line id."""
    b = _Builder(DECLARATION_NS)
    root = b.el(None, "AnnualDeclaration")
    b.el(root, "DeclarationId", declaration_id)
    b.el(root, "Year", str(declaration.year))
    b.el(b.el(root, "Declarant"), "IdentificationNumber", declaration.importer)
    b.el(root, "KnownAt", declaration.known_at.isoformat())
    versions = b.el(root, "RuleVersions")
    for v in sorted(declaration.rule_versions):
        b.el(versions, "RuleVersion", v)
    dm = b.el(root, "DeMinimis")
    b.el(dm, "CountedNetMass", _num(declaration.de_minimis.counted_mass_t))
    b.el(dm, "Threshold", _num(declaration.de_minimis.threshold_t))
    b.el(dm, "Exempt", str(declaration.de_minimis.exempt).lower())
    totals = b.el(root, "Totals")
    b.el(totals, "EmbeddedEmissions", _num(declaration.embedded_emissions))
    b.el(totals, "FreeAllocationAdjustment", _num(declaration.faa))
    b.el(totals, "DeductionCertificates", _num(declaration.deduction_certificates))
    b.el(totals, "Certificates", _num(declaration.certificates))
    cost = declaration.cost_eur
    if cost is not None:
        b.el(totals, "CostEURO", _num(cost))
    b.el(totals, "MeasurementUnit", TCO2E)
    results = _sorted_lines(declaration)
    for item, r in enumerate(results, start=1):
        g = b.el(root, "ImportedGood")
        b.el(g, "ItemNumber", str(item))
        b.el(g, "LineId", r.line_id)
        b.el(g, "CnCode", r.cn)
        b.el(g, "Sector", r.sector)
        b.el(g, "OriginCountry", r.origin)
        b.el(g, "NetMass", _num(r.net_mass))
        b.el(g, "Basis", r.basis)
        b.el(g, "RuleVersion", r.rule_version)
        if r.default_value:
            b.el(g, "DefaultValue", r.default_value)
        see = b.el(g, "SpecificEmbeddedEmissions")
        b.el(see, "Direct", _num(r.see_used.direct))
        b.el(see, "Indirect", _num(r.see_used.indirect))
        b.emissions(g, "EmbeddedEmissions", r.embedded_direct, r.embedded_indirect)
        b.el(g, "FreeAllocationAdjustment", _num(r.faa))
        ded = b.el(g, "CarbonPriceDeduction")
        b.el(ded, "EURO", _num(r.deduction_eur))
        b.el(ded, "Certificates", _num(r.deduction_certificates))
        b.el(g, "Certificates", _num(r.certificates))
        if r.certificate_price is not None:
            b.el(g, "CertificatePrice", _num(r.certificate_price))
        if r.cost_eur is not None:
            b.el(g, "CostEURO", _num(r.cost_eur))
        if r.gaps:
            gaps = b.el(g, "Gaps")
            for gap in r.gaps:
                b.el(gaps, "Gap", gap)
        if r.commitment:
            b.el(g, "Commitment", r.commitment)
        if r.evidence_commitment:
            b.el(g, "EvidenceCommitment", r.evidence_commitment)
    if declaration.gaps:
        gaps = b.el(root, "Gaps")
        for gap in _gaps(results):
            b.el(gaps, "Gap", gap)
    commitments = b.el(root, "Commitments")
    for c in _commitments(results):
        b.el(commitments, "Commitment", c)
    return b.finish(root)


def _line_json(r: LineResult) -> dict[str, Any]:
    def opt(v: Decimal | None) -> str | None:
        return None if v is None else _num(v)

    return {
        "lineId": r.line_id,
        "cn": r.cn,
        "sector": r.sector,
        "origin": r.origin,
        "netMass": _num(r.net_mass),
        "basis": r.basis,
        "ruleVersion": r.rule_version,
        "defaultValue": r.default_value,
        "seeDirect": _num(r.see_used.direct),
        "seeIndirect": _num(r.see_used.indirect),
        "embeddedDirect": _num(r.embedded_direct),
        "embeddedIndirect": _num(r.embedded_indirect),
        "embedded": _num(r.embedded),
        "faa": _num(r.faa),
        "deductionEur": _num(r.deduction_eur),
        "deductionCertificates": _num(r.deduction_certificates),
        "certificates": _num(r.certificates),
        "certificatePrice": opt(r.certificate_price),
        "costEur": opt(r.cost_eur),
        "gaps": list(r.gaps),
        "commitment": r.commitment,
        "evidenceCommitment": r.evidence_commitment,
    }


def declaration_dict(declaration: AnnualDeclaration) -> dict[str, Any]:
    """JSON-ready figures; Decimals as strings so no precision is lost."""
    cost = declaration.cost_eur
    results = _sorted_lines(declaration)
    return {
        "importer": declaration.importer,
        "year": declaration.year,
        "knownAt": declaration.known_at.isoformat(),
        "ruleVersions": sorted(declaration.rule_versions),
        "deMinimis": {
            "countedNetMass": _num(declaration.de_minimis.counted_mass_t),
            "threshold": _num(declaration.de_minimis.threshold_t),
            "exempt": declaration.de_minimis.exempt,
        },
        "embeddedEmissions": _num(declaration.embedded_emissions),
        "faa": _num(declaration.faa),
        "deductionCertificates": _num(declaration.deduction_certificates),
        "certificates": _num(declaration.certificates),
        "costEur": None if cost is None else _num(cost),
        "lines": [_line_json(r) for r in results],
        "gaps": list(_gaps(results)),
        "commitments": list(_commitments(results)),
    }


def declaration_json(declaration: AnnualDeclaration) -> str:
    return json.dumps(declaration_dict(declaration), sort_keys=True, indent=2) + "\n"


# --- the HTML summary ----------------------------------------------------------------------------

_CSS = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
    "td,th{border:1px solid #bbb;padding:.25em .5em;text-align:right}"
    "td.t,th.t{text-align:left}code{font-size:.85em}.gap{color:#a40}"
)


def declaration_html(declaration: AnnualDeclaration, title: str | None = None) -> str:
    """A self-contained HTML page (inline CSS only); every value is escaped."""

    def e(value: object) -> str:
        return html.escape(str(value), quote=True)

    def money(v: Decimal | None) -> str:
        return "n/a" if v is None else e(f"{v:,.2f}")

    def t(v: Decimal) -> str:
        return e(f"{v:,.3f}")

    d = declaration
    results = _sorted_lines(d)
    commitments = _commitments(results)
    heading = title or f"CBAM annual declaration {d.year}: {d.importer}"
    dm = d.de_minimis
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(heading)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(heading)}</h1>",
        "<p>Reg. (EU) 2023/956 as amended by Reg. (EU) 2025/2083. Figures computed with rule "
        f"versions {e(', '.join(sorted(d.rule_versions)) or 'none')} as known at {e(d.known_at.isoformat())}"
        "; tonnes and tCO2e, rounded for display only.</p>",
        "<table><tbody>",
        f'<tr><th class="t">Importer</th><td class="t">{e(d.importer)}</td></tr>',
        f'<tr><th class="t">Embedded emissions (tCO2e)</th><td>{t(d.embedded_emissions)}</td></tr>',
        f'<tr><th class="t">Free allocation adjustment</th><td>{t(d.faa)}</td></tr>',
        f'<tr><th class="t">Art. 9 deduction (certificates)</th><td>{t(d.deduction_certificates)}</td></tr>',
        f'<tr><th class="t">Certificates to surrender</th><td>{t(d.certificates)}</td></tr>',
        f'<tr><th class="t">Cost (EUR)</th><td>{money(d.cost_eur)}</td></tr>',
        f'<tr><th class="t">De minimis (Art. 2(3a))</th><td>{t(dm.counted_mass_t)} t of '
        f"{t(dm.threshold_t)} t: {'exempt' if dm.exempt else 'liable'}</td></tr>",
        "</tbody></table>",
        "<h2>Import lines</h2><table><thead><tr>",
        '<th class="t">Line</th><th class="t">CN</th><th class="t">Origin</th><th>Net mass</th>'
        '<th class="t">Basis</th><th>SEE</th><th>Embedded</th><th>Certificates</th><th>Cost EUR</th>'
        "</tr></thead><tbody>",
    ]
    for r in results:
        out.append(
            f'<tr><td class="t">{e(r.line_id)}</td><td class="t">{e(r.cn)}</td>'
            f'<td class="t">{e(r.origin)}</td><td>{t(r.net_mass)}</td><td class="t">{e(r.basis)}</td>'
            f"<td>{e(_num(r.see_used.total))}</td><td>{t(r.embedded)}</td>"
            f"<td>{t(r.certificates)}</td><td>{money(r.cost_eur)}</td></tr>"
        )
    out.append("</tbody></table>")
    if d.gaps:
        out.append("<h2>Gaps (figures absent from the rule data)</h2><ul>")
        out.extend(f'<li class="gap">{e(g)}</li>' for g in _gaps(results))
        out.append("</ul>")
    out.append("<h2>Ledger commitments of the records used</h2><ul>")
    out.extend(f"<li><code>{e(c)}</code></li>" for c in commitments)
    if not commitments:
        out.append("<li>none</li>")
    out.append("</ul></body></html>")
    return "\n".join(out) + "\n"
