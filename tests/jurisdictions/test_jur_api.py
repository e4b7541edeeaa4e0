"""Spec: the public API is curated, and the package imports nothing from the rest of the hub."""

from __future__ import annotations

import ast
from pathlib import Path

import cbamhub.jurisdictions as j

PKG = Path(j.__file__).resolve().parent


def test_all_names_resolve() -> None:
    assert sorted(j.__all__) == sorted(set(j.__all__))
    for name in j.__all__:
        assert getattr(j, name) is not None


def test_pure_calculation_no_hub_or_io_imports() -> None:
    banned = (
        "cbamhub.vault",
        "cbamhub.gateway",
        "cbamhub.ledger",
        "cbamhub.settings",
        "sqlalchemy",
        "httpx",
        "socket",
        "urllib",
        "asyncpg",
        "aiosqlite",
    )
    for f in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text("utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for n in names:
                assert not n.startswith(banned), f"{f.name} imports {n}"
