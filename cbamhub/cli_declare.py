"""`cbamhub declare | qreport | scenarios`: CBAM documents and cost scenarios from import-line files.

Exit codes (as cbamhub.cli): 0 success, 1 refused or invalid (the calculation or the document's
schema says no), 2 bad usage or unreadable input. Output is reproducible: the rule knowledge time
defaults to the newest recorded rule version (not the clock), and every date is an input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cbamhub.cli import EXIT_FAILED, EXIT_OK, CliError, _json, _read

__all__ = ["main", "register"]


def _lines(path: str, fmt: str | None) -> Any:
    from cbamhub.jurisdictions.inputs import InputError, read_lines

    kind = fmt or ("csv" if path.lower().endswith(".csv") else "json")
    try:
        return read_lines(_read(path), kind)
    except InputError as error:
        raise CliError(f"{path}: {error}") from error


def _write(data: bytes, out: str | None) -> None:
    if out is None or out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        Path(out).write_bytes(data)
    except OSError as error:
        raise CliError(f"cannot write {out}: {error.strerror}") from error


def _known_at(text: str | None, book: Any) -> datetime:
    from cbamhub.jurisdictions.inputs import InputError, parse_time

    if text is None:
        newest: datetime = max(v.recorded_at for v in book.versions)
        return newest
    try:
        return parse_time(text)
    except InputError as error:
        raise CliError(f"--known-at: {error}") from error


def _declaration(args: argparse.Namespace) -> tuple[Any, Any]:
    from cbamhub.jurisdictions import declare, load_rulebook

    found = _lines(args.lines, args.input_format)
    importer = args.importer or found.importer
    if not importer:
        raise CliError("no importer: give --importer or an 'importer' field in the JSON file")
    book = load_rulebook()
    try:
        decl = declare(
            importer, args.year, found.lines, book, known_at=_known_at(args.known_at, book)
        )
    except ValueError as error:
        raise CliError(f"refused: {error}", EXIT_FAILED) from error
    return decl, found


def cmd_declare(args: argparse.Namespace) -> int:
    from cbamhub.jurisdictions.documents import (
        DocumentError,
        annual_declaration_xml,
        declaration_html,
        declaration_json,
    )

    decl, _ = _declaration(args)
    try:
        if args.format == "xml":
            data = annual_declaration_xml(decl, args.id or f"{decl.importer}-{decl.year}")
        elif args.format == "html":
            data = declaration_html(decl).encode()
        else:
            data = declaration_json(decl).encode()
    except DocumentError as error:
        raise CliError(f"refused: {error}", EXIT_FAILED) from error
    _write(data, args.out)
    return EXIT_OK


def cmd_qreport(args: argparse.Namespace) -> int:
    from cbamhub.jurisdictions.documents import DocumentError, quarterly_report
    from cbamhub.jurisdictions.inputs import InputError, parse_header

    try:
        header = parse_header(_json(args.header))
    except InputError as error:
        raise CliError(f"{args.header}: {error}") from error
    decl, found = _declaration(args)
    try:
        data = quarterly_report(decl, found.lines, args.quarter, header)
    except DocumentError as error:
        raise CliError(f"refused: {error}", EXIT_FAILED) from error
    _write(data, args.out)
    return EXIT_OK


def cmd_scenarios(args: argparse.Namespace) -> int:
    from cbamhub.jurisdictions import certificate_price, load_rulebook
    from cbamhub.jurisdictions.chart import cost_chart
    from cbamhub.jurisdictions.scenarios import ScenarioInputs, run_scenarios

    chart_fmt = None
    if args.chart:
        chart_fmt = Path(args.chart).suffix.lower().lstrip(".")
        if chart_fmt not in ("png", "svg"):
            raise CliError(f"--chart {args.chart}: the file name must end in .png or .svg")
    if args.paths < 1 or args.paths > 1_000_000:
        raise CliError("--paths must be between 1 and 1,000,000")
    book = load_rulebook()
    start = args.start_price
    if start is None:  # the Q1 2026 certificate price of the rule data (Impl. Reg. 2025/2548)
        start = float(certificate_price(book.at(date(2026, 1, 1)), date(2026, 1, 1))[0])
    for name in ("mass", "see_actual", "see_default", "benchmark", "volatility"):
        if getattr(args, name) < 0:
            raise CliError(f"--{name.replace('_', '-')} must not be negative")
    inputs = ScenarioInputs(
        annual_mass_t=args.mass,
        see_actual=args.see_actual,
        see_default=args.see_default,
        start_price=start,
        benchmark=args.benchmark,
        drift=args.drift,
        volatility=args.volatility,
        actual_share_start=args.actual_share_start,
        actual_share_gain=args.actual_share_gain,
    )
    result = run_scenarios(inputs, paths=args.paths, seed=args.seed, book=book)
    summary = {
        "paths": args.paths,
        "seed": args.seed,
        "startPrice": start,
        "years": list(result.years),
        "certificates": [round(float(c), 6) for c in result.certificates],
        "percentiles": {
            f"P{p}": [round(float(v), 2) for v in result.cost_eur[i]]
            for i, p in enumerate(result.percentiles)
        },
    }
    _write((json.dumps(summary, indent=2, sort_keys=True) + "\n").encode(), args.out)
    if args.chart and chart_fmt is not None:
        data = cost_chart(result, "png" if chart_fmt == "png" else "svg")
        _write(data, args.chart)
    return EXIT_OK


def _line_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("lines", help="import lines, .json or .csv (see jurisdictions/inputs.py), or -")
    p.add_argument("--year", type=int, required=True, help="declaration year")
    p.add_argument("--importer", help="importer id (EORI); default: the JSON file's 'importer'")
    p.add_argument("--input-format", choices=["json", "csv"], help="default: from the file name")
    p.add_argument(
        "--known-at", help="rule knowledge time, ISO 8601 with zone (default: newest rule version)"
    )
    p.add_argument("--out", help="output file (default: stdout)")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the declare, qreport and scenarios subcommands to the `cbamhub` parser."""
    declare = subparsers.add_parser(
        "declare", help="annual CBAM declaration from import lines (XML, HTML or JSON)"
    )
    _line_args(declare)
    declare.add_argument("--format", choices=["xml", "html", "json"], default="json")
    declare.add_argument("--id", help="declaration id (default: IMPORTER-YEAR)")
    declare.set_defaults(func=cmd_declare)

    qreport = subparsers.add_parser(
        "qreport", help="QReport XML of one quarter's CBAM goods, validated against its XSD"
    )
    _line_args(qreport)
    qreport.add_argument("--quarter", type=int, choices=[1, 2, 3, 4], required=True)
    qreport.add_argument(
        "--header", required=True, help="JSON report header (see jurisdictions/inputs.py)"
    )
    qreport.set_defaults(func=cmd_qreport)

    sc = subparsers.add_parser(
        "scenarios", help="Monte Carlo certificate cost percentiles per year to 2034"
    )
    sc.add_argument("--paths", type=int, default=10_000)
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--mass", type=float, required=True, help="annual net mass, tonnes")
    sc.add_argument("--see-actual", type=float, required=True, help="tCO2e/t with actual data")
    sc.add_argument(
        "--see-default", type=float, required=True, help="tCO2e/t default incl. mark-up"
    )
    sc.add_argument("--start-price", type=float, help="EUR/t (default: the 2026 Q1 price)")
    sc.add_argument(
        "--benchmark",
        type=float,
        default=0.0,
        help="CBAM benchmark tCO2e/t (absent: 0 = upper bound)",
    )
    sc.add_argument("--drift", type=float, default=0.0, help="annual log drift")
    sc.add_argument("--volatility", type=float, default=0.3, help="annual log volatility")
    sc.add_argument("--actual-share-start", type=float, default=0.0)
    sc.add_argument("--actual-share-gain", type=float, default=0.1)
    sc.add_argument("--chart", help="also write the chart to this .png or .svg file")
    sc.add_argument("--out", help="JSON percentiles file (default: stdout)")
    sc.set_defaults(func=cmd_scenarios)


def main(argv: Sequence[str] | None = None) -> int:
    """Run these subcommands on their own (until cbamhub.cli registers them)."""
    top = argparse.ArgumentParser(prog="cbamhub", description=__doc__)
    register(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(argv)
    try:
        code: int = args.func(args)
    except CliError as error:
        print(f"cbamhub: {error}", file=sys.stderr)
        return error.code
    return code


if __name__ == "__main__":
    sys.exit(main())
