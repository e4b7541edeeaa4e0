"""Spec: QReport XML (cbam_facts.md §6), annual declaration XML, HTML and JSON summaries.

Documents validate against the XSDs kept in the package, a document missing a required element is
refused by the real validator, the output is byte-identical for the same inputs and lists the ledger
commitments of the records used, and hostile strings are escaped.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest
from cbamhub.jurisdictions.art9 import CarbonPricePaid
from cbamhub.jurisdictions.declaration import ImportLine, declare
from cbamhub.jurisdictions.documents import (
    DECLARATION_NS,
    QREPORT_NS,
    Address,
    Declarant,
    DocumentError,
    ReportHeader,
    annual_declaration_xml,
    declaration_html,
    declaration_json,
    quarterly_report,
    validate,
)
from cbamhub.jurisdictions.see import SEE
from jur_support import RECORDED

Q = f"{{{QREPORT_NS}}}"
A = f"{{{DECLARATION_NS}}}"
C1, C2, C3 = "a1" * 32, "b2" * 32, "c3" * 32

HEADER = ReportHeader(
    report_id="QR-2026-Q1-0001",
    submission_date=date(2026, 4, 20),
    declarant=Declarant("DE123456789012345", "Importer & Söhne <GmbH>", Address("DE", "Hamburg")),
    nca_reference="DE-NCA-1",
    signature_date=date(2026, 4, 20),
    signature_place="Hamburg",
    signatory="A. Signer",
    position="Customs manager",
)

# TEST INPUT, not a regulatory figure: a certified carbon price paid in EUR (no FX figure needed)
EVIDENCE = CarbonPricePaid(
    scheme="test scheme",
    country="CN",
    year=2026,
    currency="EUR",
    price_per_tco2e=D("10"),
    priced_emissions_per_t=D("0.5"),
    certified_by="verifier",
    legal_act="test act",
    commitment=C3,
)


def lines() -> list[ImportLine]:
    return [
        # default value IN 7208 39 00 (cbam_facts.md §4: total 4.28, 2026 mark-up 10 %)
        ImportLine("L1", "72083900", D("40"), "IN", date(2026, 2, 10), commitment=C1),
        ImportLine(
            "L2",
            "76011000",
            D("20.5"),
            "CN",
            date(2026, 3, 2),
            actual_see=SEE(D("1.5"), D("0.2")),
            installation_id="CN-INST-7",
            carbon_price=EVIDENCE,
            commitment=C2,
        ),
        ImportLine("L3", "39011000", D("5"), "CN", date(2026, 3, 2)),  # outside Annex I
        ImportLine("L4", "76011000", D("1"), "CN", date(2026, 5, 4), commitment=C1),  # Q2
    ]


@pytest.fixture(scope="module")
def decl(book):  # type: ignore[no-untyped-def]
    return declare("DE123456789012345", 2026, lines(), book, known_at=RECORDED)


def test_qreport_validates_and_has_the_reference_structure(decl) -> None:  # cbam_facts.md §6
    doc = quarterly_report(decl, lines(), 1, HEADER)
    validate(doc)
    root = ET.fromstring(doc)
    assert root.tag == Q + "QReport"
    assert [c.tag[len(Q) :] for c in root][:9] == [
        "SubmissionDate",
        "ReportId",
        "ReportingPeriod",
        "Year",
        "TotalImported",
        "Declarant",
        "NationalCompetentAuth",
        "Signatures",
        "Remarks",
    ]
    assert root.findtext(Q + "ReportingPeriod") == "Q1" and root.findtext(Q + "Year") == "2026"
    goods = root.findall(Q + "ImportedGood")
    assert root.findtext(Q + "TotalImported") == "2" == str(len(goods))  # L3 outside, L4 in Q2
    steel, alu = goods
    assert steel.findtext(f"{Q}CommodityCode/{Q}HsCode") == "720839"
    assert steel.findtext(f"{Q}CommodityCode/{Q}CnCode") == "00"
    assert steel.findtext(f"{Q}MeasureImported/{Q}MeasurementUnit") == "01"
    # 4.28 x 1.1 = 4.708 tCO2e/t (default with the 2026 mark-up), x 40 t
    assert D(steel.findtext(f"{Q}TotalEmissions/{Q}EmissionsPerUnit") or "") == D("4.708")
    assert D(steel.findtext(f"{Q}TotalEmissions/{Q}OverallEmissions") or "") == D("188.32")
    # §6 arithmetic: installation totals = produced mass x SEE; overall = direct + indirect
    ge = alu.find(Q + "GoodsEmissions")
    assert ge is not None
    mass = D(ge.findtext(f"{Q}ProducedMeasure/{Q}NetMass") or "")
    see_d = D(ge.findtext(f"{Q}DirectEmissions/{Q}SpecificEmbeddedEmissions") or "")
    inst = ge.find(Q + "InstallationEmissions")
    assert inst is not None
    total_d = D(inst.findtext(Q + "TotalDirect") or "")
    total_i = D(inst.findtext(Q + "TotalIndirect") or "")
    assert total_d == mass * see_d == D("30.75")
    assert D(inst.findtext(Q + "OverallEmissions") or "") == total_d + total_i
    assert ge.findtext(f"{Q}Installation/{Q}InstallationId") == "CN-INST-7"
    # aluminium is Annex II: indirect not counted, so no IndirectEmissions element
    assert ge.find(Q + "IndirectEmissions") is None
    due = ge.find(Q + "CarbonPriceDue")
    assert due is not None and due.findtext(Q + "Currency") == "EUR"
    assert D(due.findtext(Q + "Amount") or "") == D("20.5") * D("0.5") * D("10")
    remarks = root.findtext(f"{Q}Remarks/{Q}AdditionalInformation") or ""
    assert C1 in remarks and C2 in remarks and C3 in remarks


def test_qreport_is_byte_identical_for_the_same_inputs(decl, book) -> None:
    first = quarterly_report(decl, lines(), 1, HEADER)
    again = declare("DE123456789012345", 2026, lines()[::-1], book, known_at=RECORDED)
    assert quarterly_report(again, lines()[::-1], 1, HEADER) == first
    assert annual_declaration_xml(decl, "D-1") == annual_declaration_xml(again, "D-1")
    assert declaration_html(decl) == declaration_html(again)
    assert declaration_json(decl) == declaration_json(again)


@pytest.mark.parametrize(
    "path",
    [
        "ReportId",
        "Declarant",
        "ImportedGood",
        "ImportedGood/TotalEmissions/EmissionsPerUnit",
        "ImportedGood/GoodsEmissions/DirectEmissions",
    ],
)
def test_missing_required_element_fails_validation(decl, path: str) -> None:
    root = ET.fromstring(quarterly_report(decl, lines(), 1, HEADER))
    *parents, leaf = path.split("/")
    holder = root
    for p in parents:
        found = holder.find(Q + p)
        assert found is not None
        holder = found
    for child in holder.findall(Q + leaf):
        holder.remove(child)
    ET.register_namespace("", QREPORT_NS)
    with pytest.raises(DocumentError, match="invalid against qreport.xsd"):
        validate(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def test_validator_refuses_wrong_values_and_unknown_namespaces(decl) -> None:
    doc = quarterly_report(decl, lines(), 1, HEADER)
    with pytest.raises(DocumentError):
        validate(doc.replace(b"<ReportingPeriod>Q1<", b"<ReportingPeriod>Q5<"))
    with pytest.raises(DocumentError):
        validate(doc.replace(b"<Country>IN<", b"<Country>India<"))
    with pytest.raises(DocumentError, match="no schema"):
        validate(b"<x/>")
    with pytest.raises(DocumentError, match="well-formed"):
        validate(b"<QReport")


def test_qreport_refusals(decl, book) -> None:
    with pytest.raises(DocumentError, match="no CBAM goods"):
        quarterly_report(decl, lines(), 4, HEADER)
    with pytest.raises(DocumentError, match="1-4"):
        quarterly_report(decl, lines(), 5, HEADER)
    with pytest.raises(DocumentError, match="not in the declaration"):
        quarterly_report(decl, [*lines(), replace(lines()[0], line_id="X")], 1, HEADER)
    long_name = replace(HEADER, declarant=replace(HEADER.declarant, name="N" * 71))
    with pytest.raises(DocumentError, match="invalid"):  # Name <= 70 (cbam_facts.md §6)
        quarterly_report(decl, lines(), 1, long_name)
    nul = replace(HEADER, signatory="bad\x00name")
    with pytest.raises(DocumentError, match="characters XML cannot carry"):
        quarterly_report(decl, lines(), 1, nul)


def test_annual_declaration_xml_validates_and_lists_commitments(decl) -> None:
    doc = annual_declaration_xml(decl, "D-2026-1")
    validate(doc)
    root = ET.fromstring(doc)
    assert root.tag == A + "AnnualDeclaration"
    assert [c.text for c in root.findall(f"{A}Commitments/{A}Commitment")] == [C1, C2, C3]
    goods = root.findall(A + "ImportedGood")
    assert [g.findtext(A + "LineId") for g in goods] == ["L1", "L2", "L3", "L4"]
    alu = goods[1]
    assert alu.findtext(A + "EvidenceCommitment") == C3
    assert D(alu.findtext(f"{A}CarbonPriceDeduction/{A}EURO") or "") == D("102.5")
    assert D(root.findtext(f"{A}Totals/{A}Certificates") or "") == decl.certificates
    broken = doc.replace(b"<Year>2026</Year>", b"")
    with pytest.raises(DocumentError, match="annual_declaration.xsd"):
        validate(broken)


def test_json_keeps_decimals_as_strings(decl) -> None:
    data = json.loads(declaration_json(decl))
    assert data["lines"][0]["embedded"] == "188.320"
    assert data["commitments"] == [C1, C2, C3]
    assert isinstance(data["certificates"], str)


def test_html_escapes_hostile_strings(book) -> None:
    evil = '<script>alert("x")</script>'
    bad = [
        ImportLine(evil, "72083900", D("60"), "IN", date(2026, 2, 10), commitment='"><img src=x>'),
    ]
    d = declare("E<b>&amp;", 2026, bad, book, known_at=RECORDED)
    page = declaration_html(d, title=evil)
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page and "&amp;amp;" in page
    assert "http" not in page  # no external assets
    doc = annual_declaration_xml(d, evil)
    assert ET.fromstring(doc).findtext(A + "DeclarationId") == evil


def test_large_documents_validate_lazily(decl, monkeypatch) -> None:
    """Past xmlschema's element limit (a 50,000-line declaration) validation streams the tree."""
    from xmlschema import _limits

    doc = annual_declaration_xml(decl, "D-big")
    monkeypatch.setattr(_limits, "MAX_XML_ELEMENTS", 20)
    validate(doc)
    with pytest.raises(DocumentError, match="annual_declaration.xsd"):
        validate(doc.replace(b"<Year>2026</Year>", b""))
