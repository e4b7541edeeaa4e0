"""Spec: `cbamhub declare | qreport | scenarios` - outputs, exit codes 0/1/2, clear messages.

Run through `python -m cbamhub.cli_declare` in a subprocess (the exit code is what a shell sees),
and in-process through `register` on a fresh parser for the cheaper cases.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cbamhub.cli_declare import main, register

LINES = {
    "importer": "DE123456789012345",
    "lines": [
        # default value IN 7208 39 00 (cbam_facts.md §4: 4.28 with the 2026 mark-up of 10 %)
        {"line_id": "L1", "cn": "7208 39 00", "net_mass": "40", "origin": "IN",
         "import_date": "2026-02-10", "commitment": "a1" * 32},
        {"line_id": "L2", "cn": "76011000", "net_mass": "20.5", "origin": "CN",
         "import_date": "2026-03-02", "see_direct": "1.5", "see_indirect": "0.2",
         "installation_id": "CN-INST-7", "commitment": "b2" * 32},
    ],
}  # fmt: skip
HEADER = {
    "report_id": "QR-1",
    "submission_date": "2026-04-20",
    "declarant": {
        "identification_number": "DE123456789012345",
        "name": "Importer GmbH",
        "address": {"country": "DE", "city": "Hamburg"},
    },
    "nca_reference": "DE-NCA-1",
    "signature_date": "2026-04-20",
    "signature_place": "Hamburg",
    "signatory": "A. Signer",
    "position": "Customs manager",
}


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cbamhub.cli_declare", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "lines.json").write_text(json.dumps(LINES))
    (tmp_path / "header.json").write_text(json.dumps(HEADER))
    rows = ["line_id,cn,net_mass,origin,import_date,see_direct,see_indirect,commitment"]
    rows.append(f"L1,72083900,40,IN,2026-02-10,,,{'a1' * 32}")
    rows.append(f"L2,76011000,20.5,CN,2026-03-02,1.5,0.2,{'b2' * 32}")
    (tmp_path / "lines.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_declare_xml_ok_and_reproducible(files: Path) -> None:
    out = files / "d.xml"
    first = run("declare", str(files / "lines.json"), "--year", "2026", "--format", "xml",
                "--out", str(out))  # fmt: skip
    assert first.returncode == 0, first.stderr
    root = ET.fromstring(out.read_bytes())
    assert root.tag.endswith("AnnualDeclaration")
    again = run("declare", str(files / "lines.json"), "--year", "2026", "--format", "xml")
    assert again.returncode == 0 and again.stdout.encode() == out.read_bytes()


def test_declare_refused_is_1_unreadable_is_2(files: Path) -> None:
    wrong_year = run("declare", str(files / "lines.json"), "--year", "2027")
    assert wrong_year.returncode == 1 and "refused" in wrong_year.stderr
    missing = run("declare", str(files / "nope.json"), "--year", "2026")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    garbage = run("declare", "-", "--year", "2026", stdin="{not json")
    assert garbage.returncode == 2 and "not JSON" in garbage.stderr
    usage = run("declare", str(files / "lines.json"))  # --year missing
    assert usage.returncode == 2 and "--year" in usage.stderr


def test_qreport_and_scenarios_via_subprocess(files: Path) -> None:
    q = run("qreport", str(files / "lines.csv"), "--year", "2026", "--quarter", "1",
            "--header", str(files / "header.json"), "--importer", "DE1")  # fmt: skip
    assert q.returncode == 0, q.stderr
    assert "<ReportingPeriod>Q1</ReportingPeriod>" in q.stdout and "a1" * 32 in q.stdout
    empty = run("qreport", str(files / "lines.csv"), "--year", "2026", "--quarter", "3",
                "--header", str(files / "header.json"), "--importer", "DE1")  # fmt: skip
    assert empty.returncode == 1 and "no CBAM goods" in empty.stderr
    chart = files / "c.svg"
    s = run("scenarios", "--paths", "500", "--seed", "1", "--mass", "1000", "--see-actual", "1.2",
            "--see-default", "3.9", "--chart", str(chart))  # fmt: skip
    assert s.returncode == 0, s.stderr
    summary = json.loads(s.stdout)
    assert summary["startPrice"] == 75.36  # Q1 2026 certificate price (rule data, 2025/2548)
    assert len(summary["percentiles"]["P50"]) == 9 and chart.stat().st_size > 5_000
    ET.fromstring(chart.read_bytes())


def _in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bad_inputs_name_the_field(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = dict(LINES, lines=[dict(LINES["lines"][0], net_mass="forty")])  # type: ignore[call-overload]
    (files / "bad.json").write_text(json.dumps(bad))
    code, _, err = _in_process(["declare", str(files / "bad.json"), "--year", "2026"], capsys)
    assert code == 2 and "net_mass 'forty' is not a decimal" in err
    neg = dict(LINES, lines=[dict(LINES["lines"][0], net_mass="-1")])  # type: ignore[call-overload]
    (files / "neg.json").write_text(json.dumps(neg))
    code, _, err = _in_process(["declare", str(files / "neg.json"), "--year", "2026"], capsys)
    assert code == 1 and "negative net mass" in err
    (files / "noimp.json").write_text(json.dumps(LINES["lines"]))
    code, _, err = _in_process(["declare", str(files / "noimp.json"), "--year", "2026"], capsys)
    assert code == 2 and "--importer" in err
    code, _, err = _in_process(
        ["scenarios", "--mass", "1", "--see-actual", "1", "--see-default", "1", "--chart", "x.gif"],
        capsys,
    )
    assert code == 2 and ".png or .svg" in err
    dup = dict(LINES, lines=[LINES["lines"][0], LINES["lines"][0]])  # type: ignore[call-overload]
    (files / "dup.json").write_text(json.dumps(dup))
    code, _, err = _in_process(["declare", str(files / "dup.json"), "--year", "2026"], capsys)
    assert code == 2 and "appears twice" in err


def test_html_and_register_on_a_parser(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = argparse.ArgumentParser(prog="cbamhub")
    register(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(["declare", str(files / "lines.csv"), "--year", "2026",
                           "--importer", "<DE1>", "--format", "html"])  # fmt: skip
    assert args.func(args) == 0
    page = capsys.readouterr().out
    assert page.startswith("<!DOCTYPE html>") and "&lt;DE1&gt;" in page and "<DE1>" not in page
