"""Spec: import-line files parse strictly into exact Decimals; errors name the line and field."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from cbamhub.jurisdictions.inputs import InputError, parse_header, parse_time, read_lines

ROW = {"line_id": "L1", "cn": "7601 10 00", "net_mass": "20.125", "origin": "cn",
       "import_date": "2026-03-02"}  # fmt: skip


def test_json_object_with_carbon_price_keeps_exact_decimals() -> None:
    cp = {"scheme": "CN ETS", "country": "cn", "year": 2026, "currency": "cny",
          "price_per_tco2e": "80.5", "priced_emissions_per_t": "0.3", "rebate_per_tco2e": 5,
          "certified_by": "V", "commitment": "e" * 64}  # fmt: skip
    found = read_lines(
        json.dumps({"importer": "DE1", "lines": [dict(ROW, carbon_price=cp)]}), "json"
    )
    assert found.importer == "DE1"
    (ln,) = found.lines
    assert (ln.cn, ln.origin, ln.net_mass) == ("76011000", "CN", D("20.125"))
    assert ln.carbon_price is not None and ln.carbon_price.currency == "CNY"
    assert ln.carbon_price.effective_price == D("75.5")  # net of the rebate, Art. 9(1)


def test_csv_reads_actual_data_and_blank_optionals() -> None:
    text = "line_id,cn,net_mass,origin,import_date,see_direct,see_indirect\n"
    text += "A,72083900,1.5,IN,2026-01-05,1.9,0.1\nB,72083900,2,IN,2026-01-05,,\n"
    a, b = read_lines(text, "csv").lines
    assert a.actual_see is not None and a.actual_see.indirect == D("0.1")
    assert b.actual_see is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"net_mass": "1e400x"}, "line 0: net_mass"),
        ({"net_mass": "NaN"}, "finite"),
        ({"import_date": "02/03/2026"}, "YYYY-MM-DD"),
        ({"cn": "7601-10"}, "CN code"),
        ({"line_id": None}, "missing line_id"),
        ({"net_mass": True}, "text or a number"),
        ({"carbon_price": {"scheme": "x"}}, "line 0.carbon_price: missing"),
    ],
)
def test_errors_name_line_and_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_lines(json.dumps([dict(ROW, **change)]), "json")


def test_file_level_errors() -> None:
    with pytest.raises(InputError, match="CSV header lacks net_mass"):
        read_lines("line_id,cn,origin,import_date\n", "csv")
    with pytest.raises(InputError, match="list of lines"):
        read_lines('{"lines": 3}', "json")
    with pytest.raises(InputError, match="declarant"):
        parse_header({"report_id": "R"})
    with pytest.raises(InputError, match="time zone"):
        parse_time("2026-11-23T00:00:00")
