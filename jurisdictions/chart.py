"""Chart of the Monte Carlo certificate cost percentiles per year (PNG or SVG, for humans).

WHY this way: rendered headless with matplotlib's Agg canvas on a private ``Figure`` (no pyplot global
state, safe in a server), and byte-identical for the same ``ScenarioResult``: the SVG carries no date
and a fixed id salt, the PNG no timestamp. The figures are statistics (floats), not filed values.
"""

from __future__ import annotations

import io
from typing import Literal

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .scenarios import ScenarioResult

__all__ = ["cost_chart"]

ChartFormat = Literal["png", "svg"]


def cost_chart(
    result: ScenarioResult, fmt: ChartFormat = "svg", *, title: str | None = None
) -> bytes:
    """The chart as PNG or SVG bytes: one line per percentile, the outer band shaded."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"chart format {fmt!r} is not png or svg")
    years = list(result.years)
    pcts = list(result.percentiles)
    with rc_context({"svg.hashsalt": "cbamhub-cost-chart", "svg.fonttype": "none"}):
        fig = Figure(figsize=(8, 4.5), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        rows = [result.cost_eur[i] for i in range(len(pcts))]
        if len(rows) >= 2:
            ax.fill_between(years, rows[0], rows[-1], alpha=0.15, color="tab:blue", linewidth=0)
        for p, row in zip(pcts, rows, strict=True):
            ax.plot(years, row, marker="o", markersize=3, label=f"P{p}")
        ax.set_xticks(years)
        ax.set_xlabel("year")
        ax.set_ylabel("certificate cost (EUR)")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.set_title(title or "CBAM certificate cost scenarios (Monte Carlo percentiles)")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left")
        fig.tight_layout()
        buf = io.BytesIO()
        if fmt == "svg":
            fig.savefig(buf, format="svg", metadata={"Date": None})
        else:
            fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
