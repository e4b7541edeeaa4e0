"""The standalone RFC 9162 verifier (ledger/verify.py) against published vectors and the reference.

- every JSON vector of transparency-dev/merkle's testdata (copied beside the repository, see
  ../shared/reference/merkle-testdata/README.md): `wantErr: false` verifies, `wantErr: true` raises;
- the published RFC 6962 roots and proofs of the 8 reference leaves;
- for the trees of 1..8 reference leaves, every index and every pair of sizes: the reference PATH and
  PROOF verify, and tampered variants do not;
- verify.py imports nothing but the standard library, and runs as a lone copied file;
- error messages say what is wrong.
"""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import reference
from cbamhub.ledger import verify
from cbamhub.ledger.verify import (
    EMPTY_ROOT,
    VerificationError,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

TESTDATA = Path(__file__).parents[3] / "shared/reference/merkle-testdata"
VERIFY_PY = Path(verify.__file__)

# --------------------------------------------------------------------------------------------------
# Published values.
#
# Root hashes of the trees of the first 0..8 RFC 6962 reference leaves, from transparency-dev/merkle
# testonly/constants.go, RootHashes() (the same values as the C++ RFC 6962 reference test,
# certificate-transparency merkle_tree_test.cc). Index = tree size.
PUBLISHED_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]

# Hashes of every complete subtree of the 8-leaf tree, from transparency-dev/merkle
# testonly/constants.go, NodeHashes(): [height][index].
PUBLISHED_NODES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# Inclusion proofs (leaf index, tree size, path) from transparency-dev/merkle proof/verify_test.go,
# `inclusionProofs` (there written with 1-based leaf numbers; converted to 0-based indices here).
PUBLISHED_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# Consistency proofs (size1, size2, proof) from transparency-dev/merkle proof/verify_test.go,
# `consistencyProofs`.
PUBLISHED_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

LEAVES = reference.RFC6962_LEAVES


def unhex(hashes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


def flip(value: bytes, bit: int = 0) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


# --------------------------------------------------------------------------------------------------
# transparency-dev/merkle JSON vectors


def _vector_files() -> list[Path]:
    return sorted(TESTDATA.rglob("*.json"))


def test_vectors_are_present() -> None:
    """The vectors sit beside the repository (../shared/reference); silently testing none is a failure."""
    files = _vector_files()
    assert TESTDATA.is_dir(), f"{TESTDATA} is missing"
    assert len(files) >= 190, f"only {len(files)} JSON vectors under {TESTDATA}"
    kinds = {f.relative_to(TESTDATA).parts[0] for f in files}
    assert kinds == {"inclusion", "consistency"}
    wants = {json.loads(f.read_text())["wantErr"] for f in files}
    assert wants == {True, False}


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "", validate=True)


def _check_vector(data: dict[str, Any]) -> None:
    proof = [_b64(p) for p in data.get("proof") or []]
    if "leafIdx" in data:
        verify_inclusion(
            data["leafIdx"], data["treeSize"], _b64(data["leafHash"]), proof, _b64(data["root"])
        )
    else:
        verify_consistency(
            data["size1"], data["size2"], _b64(data["root1"]), _b64(data["root2"]), proof
        )


@pytest.mark.parametrize(
    "path", _vector_files(), ids=lambda p: str(p.relative_to(TESTDATA)).replace("/", ":")
)
def test_merkle_vector(path: Path) -> None:
    data = json.loads(path.read_text())
    if data["wantErr"]:
        with pytest.raises(VerificationError):
            _check_vector(data)
    else:
        _check_vector(data)


# --------------------------------------------------------------------------------------------------
# Published RFC 6962 values


def test_reference_roots_are_the_published_roots() -> None:
    for size in range(len(LEAVES) + 1):
        assert reference.mth(LEAVES[:size]) == PUBLISHED_ROOTS[size], f"size {size}"


def test_reference_subtrees_are_the_published_nodes() -> None:
    for height, row in enumerate(PUBLISHED_NODES):
        for index, expected in enumerate(row):
            subtree = LEAVES[index << height : (index + 1) << height]
            assert reference.mth(subtree).hex() == expected, f"node {height}/{index}"


def test_verifier_hashing_is_rfc6962() -> None:
    assert PUBLISHED_ROOTS[0] == EMPTY_ROOT
    assert verify.leaf_hash(LEAVES[0]) == PUBLISHED_ROOTS[1]
    assert (
        verify.node_hash(verify.leaf_hash(LEAVES[0]), verify.leaf_hash(LEAVES[1]))
        == (PUBLISHED_ROOTS[2])
    )
    for entry in LEAVES:
        assert verify.leaf_hash(entry) == reference.leaf_hash(entry)


@pytest.mark.parametrize(("index", "size", "hashes"), PUBLISHED_INCLUSION)
def test_published_inclusion_proofs(index: int, size: int, hashes: list[str]) -> None:
    published = unhex(hashes)
    assert reference.path(index, LEAVES[:size], reference.mth) == published
    leaf = verify.leaf_hash(LEAVES[index])
    verify_inclusion(index, size, leaf, published, PUBLISHED_ROOTS[size])
    assert root_from_inclusion_proof(index, size, leaf, published) == PUBLISHED_ROOTS[size]


@pytest.mark.parametrize(("size1", "size2", "hashes"), PUBLISHED_CONSISTENCY)
def test_published_consistency_proofs(size1: int, size2: int, hashes: list[str]) -> None:
    published = unhex(hashes)
    assert reference.proof(size1, LEAVES[:size2], reference.mth) == published
    verify_consistency(size1, size2, PUBLISHED_ROOTS[size1], PUBLISHED_ROOTS[size2], published)


# --------------------------------------------------------------------------------------------------
# Every index and every pair of sizes of the 8-leaf reference tree

ALL_INCLUSION = [(i, n) for n in range(1, 9) for i in range(n)]
ALL_CONSISTENCY = [(m, n) for n in range(1, 9) for m in range(1, n + 1)]


@pytest.mark.parametrize(("index", "size"), ALL_INCLUSION)
def test_every_reference_inclusion_proof_verifies(index: int, size: int) -> None:
    root = PUBLISHED_ROOTS[size]
    leaf = verify.leaf_hash(LEAVES[index])
    p = reference.path(index, LEAVES[:size], reference.mth)
    verify_inclusion(index, size, leaf, p, root)
    assert root_from_inclusion_proof(index, size, leaf, p) == root

    # ... and nothing near it does.
    others = [PUBLISHED_ROOTS[s] for s in range(1, 9) if s != size]
    for wrong_root in [*others, flip(root), EMPTY_ROOT]:
        with pytest.raises(VerificationError):
            verify_inclusion(index, size, leaf, p, wrong_root)
    for wrong_leaf in [verify.leaf_hash(e) for e in LEAVES if e != LEAVES[index]] + [flip(leaf)]:
        with pytest.raises(VerificationError):
            verify_inclusion(index, size, wrong_leaf, p, root)
    for wrong_index in {index - 1, index + 1, index ^ 1, index ^ 2, size, -1}:
        if wrong_index != index and (
            not 0 <= wrong_index < size or LEAVES[wrong_index] != LEAVES[index]
        ):
            with pytest.raises(VerificationError):
                verify_inclusion(wrong_index, size, leaf, p, root)
    for wrong_size in {size * 2, size // 2, 0}:  # size ± 1 can share the hash chain
        if wrong_size != size:
            with pytest.raises(VerificationError):
                verify_inclusion(index, wrong_size, leaf, p, root)
    for position in range(len(p)):
        for bit in (0, 3, 7):
            tampered = [*p]
            tampered[position] = flip(p[position], bit)
            with pytest.raises(VerificationError):
                verify_inclusion(index, size, leaf, tampered, root)
    if p:
        with pytest.raises(VerificationError):
            verify_inclusion(index, size, leaf, p[:-1], root)
    if len(p) > 1:
        with pytest.raises(VerificationError):
            verify_inclusion(index, size, leaf, [p[1], p[0], *p[2:]], root)
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, leaf, [*p, bytes.fromhex(PUBLISHED_NODES[0][0])], root)
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, leaf, [root, *p], root)


@pytest.mark.parametrize(("size1", "size2"), ALL_CONSISTENCY)
def test_every_reference_consistency_proof_verifies(size1: int, size2: int) -> None:
    root1, root2 = PUBLISHED_ROOTS[size1], PUBLISHED_ROOTS[size2]
    p = reference.proof(size1, LEAVES[:size2], reference.mth)
    verify_consistency(size1, size2, root1, root2, p)
    if size1 == size2:
        assert p == []
        with pytest.raises(VerificationError):
            verify_consistency(size1, size2, root1, flip(root2), p)
        return

    # ... and nothing near it does.
    for wrong_root1 in [flip(root1), root2, EMPTY_ROOT]:
        with pytest.raises(VerificationError):
            verify_consistency(size1, size2, wrong_root1, root2, p)
    for wrong_root2 in [flip(root2), root1, EMPTY_ROOT]:
        with pytest.raises(VerificationError):
            verify_consistency(size1, size2, root1, wrong_root2, p)
    for wrong1 in {size1 - 1, size1 + 1, size1 ^ 2}:
        if wrong1 not in (size1, size2) and wrong1 > 0:
            with pytest.raises(VerificationError):
                verify_consistency(wrong1, size2, root1, root2, p)
    for wrong2 in {size2 * 2, size2 // 2}:  # size2 ± 1 can share the hash chain
        if wrong2 != size2:
            with pytest.raises(VerificationError):
                verify_consistency(size1, wrong2, root1, root2, p)
    for position in range(len(p)):
        for bit in (0, 4, 7):
            tampered = [*p]
            tampered[position] = flip(p[position], bit)
            with pytest.raises(VerificationError):
                verify_consistency(size1, size2, root1, root2, tampered)
    for wrong_proof in ([], p[:-1], [*p, root1], [*p, root2], [root1, *p], [p[0], *p]):
        with pytest.raises(VerificationError):
            verify_consistency(size1, size2, root1, root2, wrong_proof)


def test_consistency_proof_of_a_different_history_fails() -> None:
    """A tree that rewrote leaf 1 has no valid consistency proof from the honest tree of size 3."""
    rewritten = [*LEAVES]
    rewritten[1] = b"rewritten"
    for size2 in range(4, 9):
        forged = reference.proof(3, rewritten[:size2], reference.mth)
        with pytest.raises(VerificationError, match="rewrote history"):
            verify_consistency(
                3, size2, PUBLISHED_ROOTS[3], reference.mth(rewritten[:size2]), forged
            )
    # From a power-of-two size the verifier uses the old root itself: the new root cannot match.
    for size2 in range(5, 9):
        forged = reference.proof(4, rewritten[:size2], reference.mth)
        with pytest.raises(VerificationError, match=f"new root of size {size2}"):
            verify_consistency(
                4, size2, PUBLISHED_ROOTS[4], reference.mth(rewritten[:size2]), forged
            )


# --------------------------------------------------------------------------------------------------
# Standalone: the standard library only


def _imported_modules(source: str) -> list[tuple[str, int]]:
    """(top-level module, relative level) of every import statement, however nested."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((alias.name.split(".")[0], 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append(((node.module or "").split(".")[0], node.level))
    return found


def test_verify_imports_only_the_standard_library() -> None:
    imports = _imported_modules(VERIFY_PY.read_text())
    assert imports, "verify.py should at least import hashlib"
    for module, level in imports:
        assert level == 0, f"verify.py has a relative import (from {'.' * level}{module})"
        assert module == "__future__" or module in sys.stdlib_module_names, (
            f"verify.py imports {module!r}, which is not in the standard library"
        )
    # No dynamic imports either.
    calls = [
        node.func
        for node in ast.walk(ast.parse(VERIFY_PY.read_text()))
        if isinstance(node, ast.Call)
    ]
    names = {c.id for c in calls if isinstance(c, ast.Name)} | {
        c.attr for c in calls if isinstance(c, ast.Attribute)
    }
    assert not names & {"__import__", "import_module", "exec", "eval"}


def test_import_check_would_catch_a_third_party_import() -> None:
    """The AST check above is not vacuous."""
    bad = "import hashlib\nfrom nacl import signing\nfrom . import proofs\n"
    modules = _imported_modules(bad)
    assert ("nacl", 0) in modules and ("", 1) in modules
    assert "nacl" not in sys.stdlib_module_names


def test_verify_runs_as_a_lone_copied_file(tmp_path: Path) -> None:
    """An auditor copies verify.py alone and runs it in an isolated interpreter (no site-packages)."""
    (tmp_path / "verify.py").write_bytes(VERIFY_PY.read_bytes())
    leaf = verify.leaf_hash(LEAVES[5])
    p = reference.path(5, LEAVES, reference.mth)
    c = reference.proof(3, LEAVES[:7], reference.mth)
    script = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
import verify
verify.verify_inclusion(5, 8, {leaf!r}, {p!r}, {PUBLISHED_ROOTS[8]!r})
verify.verify_consistency(3, 7, {PUBLISHED_ROOTS[3]!r}, {PUBLISHED_ROOTS[7]!r}, {c!r})
try:
    verify.verify_inclusion(4, 8, {leaf!r}, {p!r}, {PUBLISHED_ROOTS[8]!r})
except verify.VerificationError as exc:
    print("rejected:", exc)
assert not any(m.startswith(("cbamhub", "ledger", "nacl", "sqlalchemy")) for m in sys.modules)
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "ok"
    assert "rejected:" in result.stdout


# --------------------------------------------------------------------------------------------------
# Error messages say what is wrong

ROOT8 = PUBLISHED_ROOTS[8]
LEAF5 = verify.leaf_hash(LEAVES[5])
PATH5 = reference.path(5, LEAVES, reference.mth)
PROOF_3_8 = reference.proof(3, LEAVES, reference.mth)


@pytest.mark.parametrize(
    ("index", "size", "proof", "message"),
    [
        (8, 8, PATH5, r"leaf index 8 is outside a tree of size 8"),
        (-1, 8, PATH5, r"leaf index -1 is outside a tree of size 8"),
        (0, 0, [], r"tree size 0 holds no leaves"),
        (5, 8, PATH5[:-1], r"too short"),
        (5, 8, PATH5[:1], r"too short"),
        (5, 8, [*PATH5, ROOT8], r"1 element\(s\) too many"),
        (5, 8, [*PATH5, ROOT8, ROOT8], r"2 element\(s\) too many"),
        (5, 8, [PATH5[0][:31], *PATH5[1:]], r"proof element 0 is 31 bytes long"),
        (5, 8, [*PATH5[:2], PATH5[2] + b"\0"], r"proof element 2 is 33 bytes long"),
        (5, 8, [flip(PATH5[1]), *PATH5[2:]], r"too short"),
    ],
)
def test_inclusion_error_messages(index: int, size: int, proof: list[bytes], message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        verify_inclusion(index, size, LEAF5, proof, ROOT8)


def test_inclusion_error_message_for_a_wrong_root() -> None:
    bad = flip(ROOT8)
    with pytest.raises(VerificationError, match="does not lead to the root") as caught:
        verify_inclusion(5, 8, LEAF5, PATH5, bad)
    assert ROOT8.hex() in str(caught.value) and bad.hex() in str(caught.value)
    with pytest.raises(VerificationError, match="does not lead to the root"):
        verify_inclusion(5, 8, flip(LEAF5), PATH5, ROOT8)


def test_inclusion_error_messages_for_bad_hash_lengths() -> None:
    with pytest.raises(VerificationError, match="leaf hash is 31 bytes long"):
        verify_inclusion(5, 8, LEAF5[:31], PATH5, ROOT8)
    with pytest.raises(VerificationError, match="root hash is 0 bytes long"):
        verify_inclusion(5, 8, LEAF5, PATH5, b"")


@pytest.mark.parametrize(
    ("size1", "size2", "root1", "root2", "proof", "message"),
    [
        (5, 3, PUBLISHED_ROOTS[5], PUBLISHED_ROOTS[3], [], r"old size 5 is larger than new size 3"),
        (-1, 3, EMPTY_ROOT, PUBLISHED_ROOTS[3], [], r"negative"),
        (0, 3, EMPTY_ROOT, PUBLISHED_ROOTS[3], [], r"from an empty tree proves nothing"),
        (3, 3, PUBLISHED_ROOTS[3], PUBLISHED_ROOTS[3], [ROOT8], r"sizes are equal \(3\)"),
        (3, 3, PUBLISHED_ROOTS[3], PUBLISHED_ROOTS[4], [], r"split view"),
        (3, 8, PUBLISHED_ROOTS[3], ROOT8, [], r"empty consistency proof between sizes 3 and 8"),
        (3, 8, PUBLISHED_ROOTS[3], ROOT8, PROOF_3_8[:-1], r"between sizes 3 and 8 is too short"),
        (3, 8, PUBLISHED_ROOTS[3], ROOT8, [*PROOF_3_8, ROOT8], r"too many elements"),
        (3, 8, flip(PUBLISHED_ROOTS[3]), ROOT8, PROOF_3_8, r"rewrote history"),
        (3, 8, PUBLISHED_ROOTS[3], flip(ROOT8), PROOF_3_8, r"new root of size 8"),
        (3, 8, PUBLISHED_ROOTS[3][:8], ROOT8, PROOF_3_8, r"old root hash is 8 bytes long"),
        (3, 8, PUBLISHED_ROOTS[3], ROOT8, [b"x", *PROOF_3_8[1:]], r"proof element 0 is 1 bytes"),
    ],
)
def test_consistency_error_messages(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes], message: str
) -> None:
    with pytest.raises(VerificationError, match=message):
        verify_consistency(size1, size2, root1, root2, proof)


def test_verification_error_is_a_value_error() -> None:
    """Callers that only know ValueError still stop on a bad proof."""
    assert issubclass(VerificationError, ValueError)
