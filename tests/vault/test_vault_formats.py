"""Bulk formats: CSV and JSON Lines — happy paths, complete error reports, never a partial batch."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from cbamhub.vault.errors import BadInput
from cbamhub.vault.formats.csvfile import CSV_COLUMNS, JSON_COLUMNS, parse_csv, write_csv
from cbamhub.vault.formats.jsonl import parse_jsonl, write_jsonl
from cbamhub.vault.formats.report import Batch, BatchRejected, Collector, Problem
from cbamhub.vault.record_model import EmissionsRecord, parse_record
from hypothesis import given, settings
from hypothesis import strategies as st
from vault_samples import SAMPLES, sample


def all_records() -> list[EmissionsRecord]:
    return [parse_record(sample(n)) for n in sorted(SAMPLES)]


def csv_text(rows: list[dict[str, str]], columns: list[str] | None = None) -> str:
    header = columns or list(CSV_COLUMNS)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def rows_of(records: list[EmissionsRecord]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(write_csv(records)))))


# --- report --------------------------------------------------------------------------------------


def test_batch_never_holds_records_and_problems() -> None:
    with pytest.raises(ValueError, match="never"):
        Batch((1,), (Problem("row 2", "x", "y"),))
    collector: Collector[int] = Collector()
    collector.add(1)
    collector.problem("row 3", "f", "bad")
    collector.add(2)
    assert collector.result() == Batch((), (Problem("row 3", "f", "bad"),))


def test_rejection_is_a_bad_input_with_every_problem() -> None:
    batch: Batch[int] = Batch((), (Problem("row 2", "a", "x"), Problem("row 5", "b", "y")))
    with pytest.raises(BatchRejected) as caught:
        batch.accepted()
    assert isinstance(caught.value, BadInput)
    assert caught.value.code == "BAD_USER_INPUT"
    assert caught.value.details["problems"] == [
        {"location": "row 2", "field": "a", "reason": "x"},
        {"location": "row 5", "field": "b", "reason": "y"},
    ]
    assert Batch((1, 2), ()).accepted() == (1, 2)


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_round_trips_every_sector() -> None:
    records = all_records()
    batch = parse_csv(io.StringIO("".join(write_csv(records))))
    assert batch.ok and list(batch.records) == records


def test_csv_header_documents_kit_paths() -> None:
    assert CSV_COLUMNS[:3] == ("manufacturerId", "operatorCbamId", "installationCbamId")
    assert "directEmissions.specificEmbeddedEmissionsDirect" in CSV_COLUMNS
    assert "indirectEmissions.emissionFactorTonnesCo2PerMwh" in CSV_COLUMNS
    assert set(JSON_COLUMNS) <= set(CSV_COLUMNS)


def test_csv_subset_of_columns_in_any_order_and_units_in_cells() -> None:
    row = rows_of([parse_record(sample("hydrogen"))])[0]
    row = {k: v for k, v in row.items() if v}
    row["activityData.netMass"] = "1000000 kg"
    columns = sorted(row)
    batch = parse_csv(io.StringIO(csv_text([row], columns)))
    assert batch.ok
    assert batch.records[0] == parse_record(sample("hydrogen"))


def test_csv_reports_every_bad_row_with_row_numbers_and_fields() -> None:
    rows = rows_of(all_records())  # 7 rows: data rows are 2..8
    rows[0]["cnCode"] = "84715000"  # row 2: out of scope
    rows[2]["activityData.netMass"] = "12 MWh"  # row 4: wrong dimension
    rows[2]["dataQualityTier"] = "excellent"  # row 4: second problem of the same row
    rows[5]["precursors"] = "not json"  # row 7: bad JSON cell
    batch = parse_csv(io.StringIO(csv_text(rows)))
    assert batch.records == ()
    found = {(p.location, p.field) for p in batch.problems}
    assert found == {
        ("row 2", "cnCode"),
        ("row 4", "activityData.netMass"),
        ("row 4", "dataQualityTier"),
        ("row 7", "precursors"),
    }
    reasons = {p.field: p.reason for p in batch.problems}
    assert "is an energy, not convertible to t" in reasons["activityData.netMass"]


def test_csv_empty_cell_is_absent_not_zero() -> None:
    rows = rows_of([parse_record(sample("cement"))])
    rows[0]["indirectEmissions.specificEmbeddedEmissionsIndirect"] = ""
    for column in CSV_COLUMNS:
        if column.startswith("indirectEmissions."):
            rows[0][column] = ""
    batch = parse_csv(io.StringIO(csv_text(rows)))
    assert [(p.location, p.field) for p in batch.problems] == [("row 2", "indirectEmissions")]


def test_csv_header_problems() -> None:
    text = "cnCode,bogus,cnCode\n72085120,1,2\n"
    batch = parse_csv(io.StringIO(text))
    assert {(p.location, p.field) for p in batch.problems} == {
        ("row 1", "bogus"),
        ("row 1", "cnCode"),
    }
    assert parse_csv(io.StringIO("")).problems[0].reason == "the file is empty"
    assert "no records" in parse_csv(io.StringIO("cnCode\n\n,\n")).problems[0].reason


def test_csv_ragged_rows_and_blank_rows() -> None:
    rows = rows_of(all_records()[:2])
    text = csv_text(rows)
    lines = text.splitlines(keepends=True)
    lines.insert(2, "," * (len(CSV_COLUMNS) - 1) + "\n")  # blank row 3, skipped
    lines.append("a,b\n")  # row 5: too few cells
    batch = parse_csv(io.StringIO("".join(lines)))
    assert [(p.location, p.field) for p in batch.problems] == [("row 5", "(row)")]


def test_csv_bom_is_tolerated() -> None:
    text = "\ufeff" + "".join(write_csv(all_records()[:1]))
    assert parse_csv(io.StringIO(text)).ok


# --- JSON Lines ----------------------------------------------------------------------------------


def test_jsonl_round_trips_every_sector() -> None:
    records = all_records()
    batch = parse_jsonl(write_jsonl(records))
    assert batch.ok and list(batch.records) == records


def test_jsonl_accepts_bytes_and_skips_blank_lines() -> None:
    lines = [line.encode() for line in write_jsonl(all_records()[:2])]
    batch = parse_jsonl([b"\n", lines[0], b"   \n", lines[1]])
    assert batch.ok and len(batch.records) == 2


def test_jsonl_reports_every_bad_line() -> None:
    lines = list(write_jsonl(all_records()))
    bad = sample("cement")
    bad["unLoCode"] = "CNSHA"
    bad["activityData"]["netMass"] = {"value": 5, "unit": "kWh"}
    lines[1] = json.dumps(bad) + "\n"
    lines[3] = "{not json\n"
    lines[4] = "[1, 2]\n"
    batch = parse_jsonl(lines)
    assert batch.records == ()
    assert [(p.location, p.field) for p in batch.problems] == [
        ("line 2", "activityData.netMass"),
        ("line 4", "(line)"),
        ("line 5", "(line)"),
    ]
    assert "no records" in parse_jsonl(["\n"]).problems[0].reason


# --- never a partial batch -----------------------------------------------------------------------

BREAKERS: list[tuple[str, Any]] = [
    ("cnCode", "84715000"),
    ("methodology", "guesswork"),
    ("countryCode", "india"),
    ("activityData", {"netMass": 5}),
]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(SAMPLES)), st.none() | st.sampled_from(BREAKERS)),
        min_size=1,
        max_size=8,
    )
)
def test_a_parser_never_returns_a_partial_batch(
    items: list[tuple[str, tuple[str, Any] | None]],
) -> None:
    documents = []
    for name, breaker in items:
        document = sample(name)
        if breaker is not None:
            document[breaker[0]] = breaker[1]
        documents.append(document)
    bad = {i + 1 for i, (_, breaker) in enumerate(items) if breaker is not None}
    batch = parse_jsonl(json.dumps(d) + "\n" for d in documents)
    if bad:
        assert batch.records == ()
        assert {int(p.location.split()[1]) for p in batch.problems} == bad
    else:
        assert batch.ok and len(batch.records) == len(items)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.sampled_from(sorted(SAMPLES)), min_size=1, max_size=6))
def test_csv_and_jsonl_agree(names: list[str]) -> None:
    records = [parse_record(sample(n)) for n in names]
    assert parse_csv(io.StringIO("".join(write_csv(records)))).records == tuple(records)
    assert parse_jsonl(write_jsonl(records)).records == tuple(records)
