"""Dependencies point one way (docs/DESIGN.md, decision 0084): the front doors (cbamhub.gateway,
cbamhub.rpc) call the core and the scorer, never the other way, so the scorer deploys on its own and
the vault runs without a door; the ledger imports nothing of the hub at all.

Checked on the source (every import statement, lazy ones inside functions included, relative ones
resolved, and import_module calls with a literal name) and, for what an import pulls in through
the core modules, by importing the scorer's service and client and the vault in a fresh process.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOORS = ("cbamhub.gateway", "cbamhub.rpc")
CORE = {  # folder -> installed package
    "vault": "cbamhub.vault",
    "ledger": "cbamhub.ledger",
    "anomaly": "cbamhub.anomaly",
    "jurisdictions": "cbamhub.jurisdictions",
    "policies": "cbamhub.policies",
}
SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def _package_of(path: Path, folder: str) -> str:
    """The package a module's relative imports start from (an __init__.py is its own package)."""
    parts = path.relative_to(REPO / folder).parent.parts
    return ".".join((CORE[folder], *parts))


def imported_names(source: str, package: str) -> Iterator[str]:
    """Every module name `source` imports, relative imports resolved against `package`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base)
                module = f"{prefix}.{node.module}" if node.module else prefix
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func, first = node.func, node.args[0]
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"import_module", "__import__"} and isinstance(first, ast.Constant):
                yield str(first.value)


def _is_under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def _modules(folder: str) -> list[Path]:
    found = [
        p
        for p in sorted((REPO / folder).rglob("*.py"))
        if not SKIP_DIRS.intersection(p.relative_to(REPO).parts)
    ]
    assert found, f"no modules under {folder}/"
    return found


def _imports(folder: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(REPO)): set(
            imported_names(path.read_text("utf-8"), _package_of(path, folder))
        )
        for path in _modules(folder)
    }


@pytest.mark.parametrize("folder", sorted(CORE))
def test_the_core_never_imports_a_front_door(folder: str) -> None:
    wrong = {
        module: sorted(n for n in names if _is_under(n, DOORS))
        for module, names in _imports(folder).items()
    }
    assert {m: names for m, names in wrong.items() if names} == {}


def test_the_ledger_imports_nothing_of_the_hub() -> None:
    wrong = {
        module: sorted(
            n for n in names if _is_under(n, ("cbamhub",)) and not _is_under(n, ("cbamhub.ledger",))
        )
        for module, names in _imports("ledger").items()
    }
    assert {m: names for m, names in wrong.items() if names} == {}


@pytest.mark.parametrize(
    ("source", "package", "door"),
    [
        ("from cbamhub.rpc.server import x", "cbamhub.vault", "cbamhub.rpc.server"),
        ("def f():\n    import cbamhub.gateway.app", "cbamhub.anomaly", "cbamhub.gateway.app"),
        ("from ..rpc import anomaly", "cbamhub.vault", "cbamhub.rpc"),
        ("from .. import gateway", "cbamhub.vault", "cbamhub.gateway"),
        ("from ...rpc.x import y", "cbamhub.vault.formats", "cbamhub.rpc.x"),
        ("importlib.import_module('cbamhub.rpc.server')", "cbamhub.vault", "cbamhub.rpc.server"),
    ],
)
def test_the_check_sees_every_way_of_importing_a_door(source: str, package: str, door: str) -> None:
    names = set(imported_names(source, package))
    assert door in names and any(_is_under(n, DOORS) for n in names)


def test_a_relative_import_within_the_core_is_not_a_door() -> None:
    names = set(
        imported_names("from ..anomaly import remote\nfrom .generated import x", "cbamhub.vault")
    )
    assert names == {"cbamhub.anomaly", "cbamhub.anomaly.remote", "cbamhub.vault.generated",
                     "cbamhub.vault.generated.x"}  # fmt: skip
    assert not any(_is_under(n, DOORS) for n in names)


def test_the_scorer_and_the_vault_load_no_door_through_the_core() -> None:
    """What the AST cannot see: a core module (settings, grpc_tls, ...) that pulls a door in."""
    probe = (
        "import sys\n"
        "import cbamhub.anomaly.remote, cbamhub.anomaly.service, cbamhub.cli_anomaly\n"
        "import cbamhub.vault.anomaly_ingest, cbamhub.vault.publishing, cbamhub.vault.shards\n"
        f"print(sorted(m for m in sys.modules if m.startswith({DOORS!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd="/", capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
