"""The ledger's public API is curated: these names, and nothing from the rest of the hub."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import cbamhub.ledger as ledger

LEDGER_DIR = Path(ledger.__file__).parent

PUBLIC = {
    "AppendResult", "BlsPublicKey", "BlsSigner", "Checkpoint", "CosignatureSigner",
    "DisclosureError", "Ed25519Signer", "Ed25519Verifier", "LogCorrupted", "LogError",
    "RecordEvidence", "SelectiveDisclosure", "SignedCheckpoint", "Statement", "StatementKind",
    "TransparencyLog", "TreeHead", "VerificationError", "WitnessPolicy", "commitment",
    "create_engine", "create_tables", "leaf_hash", "node_hash", "sign_checkpoint", "verify_checkpoint",
    "verify_consistency", "verify_disclosure", "verify_evidence", "verify_inclusion",
}  # fmt: skip


def test_the_public_names_are_exactly_the_curated_ones() -> None:
    assert set(ledger.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(ledger, name) is not None


def test_the_ledger_imports_nothing_from_the_rest_of_the_hub() -> None:
    """ledger/ stands alone: an auditor can use it without the vault, gateway or settings."""
    offenders = []
    for path in LEDGER_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("cbamhub") and not n.startswith("cbamhub.ledger")
            ]
    assert offenders == []


def test_the_standalone_verifier_needs_only_the_standard_library() -> None:
    tree = ast.parse((LEDGER_DIR / "verify.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
