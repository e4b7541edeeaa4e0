"""Spec: the scenario chart is produced as PNG and SVG, non-trivial, and deterministic for a seed."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

import pytest
from cbamhub.jurisdictions.chart import cost_chart
from cbamhub.jurisdictions.scenarios import ScenarioInputs, run_scenarios

# TEST INPUT: benchmark 1.0 is not a regulatory figure (2025/2620 is absent from the reference)
INP = ScenarioInputs(annual_mass_t=1000, see_actual=1.2, see_default=3.9, start_price=75.36,
                     benchmark=1.0, volatility=0.25, actual_share_start=0.5)  # fmt: skip
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result(book):  # type: ignore[no-untyped-def]
    return run_scenarios(INP, paths=500, seed=1, book=book)


def test_svg_parses_and_shows_each_percentile(result) -> None:
    svg = cost_chart(result, "svg")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(svg) > 5_000
    text = svg.decode()
    for label in ("P5", "P50", "P95", "2026", "2034"):
        assert label in text
    assert "<dc:date>" not in text  # no timestamp


def test_png_signature_and_size(result) -> None:
    png = cost_chart(result, "png")
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])  # IHDR
    assert (width, height) == (800, 450)
    assert 10_000 < len(png) < 2_000_000


def test_deterministic_for_a_seed(book, result) -> None:
    again = run_scenarios(INP, paths=500, seed=1, book=book)
    assert cost_chart(result, "svg") == cost_chart(again, "svg")
    assert cost_chart(result, "png") == cost_chart(again, "png")
    other = run_scenarios(INP, paths=500, seed=2, book=book)
    assert cost_chart(other, "svg") != cost_chart(result, "svg")


def test_unknown_format_refused(result) -> None:
    with pytest.raises(ValueError, match="png or svg"):
        cost_chart(result, "gif")  # type: ignore[arg-type]
