"""Checkpoint bodies (c2sp.org/tlog-checkpoint): exact format, strict parsing, log signatures."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cbamhub.ledger.checkpoint import (
    Checkpoint,
    MalformedCheckpointError,
    SignedCheckpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from cbamhub.ledger.note import (
    Ed25519Signer,
    InvalidSignatureError,
    MissingSignatureError,
    sign_note,
)
from cbamhub.ledger.verify import VerificationError

# The example checkpoint body of the C2SP tlog-checkpoint spec.
SPEC_BODY = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
ROOT = hashlib.sha256(b"root").digest()
LOG = Ed25519Signer("example.com/log", bytes([1]) * 32)


def test_spec_example_parses_and_round_trips() -> None:
    cp = Checkpoint.parse(SPEC_BODY)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.body() == SPEC_BODY


def test_body_format_with_extensions() -> None:
    cp = Checkpoint("example.com/log", 0, ROOT, ("ext one", "ext-two"))
    root64 = base64.b64encode(ROOT).decode()
    assert cp.body() == f"example.com/log\n0\n{root64}\next one\next-two\n".encode()
    assert Checkpoint.parse(cp.body()) == cp


ROOT64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("example.com/log\n5\n", "needs origin, tree size and root"),
        (f"example.com/log\n5\n{ROOT64}", "end in a newline"),
        (f"\n5\n{ROOT64}\n", "origin is empty"),
        (f"example.com/log\n05\n{ROOT64}\n", "leading zeros"),
        (f"example.com/log\n-5\n{ROOT64}\n", "decimal"),
        (f"example.com/log\n+5\n{ROOT64}\n", "decimal"),
        (f"example.com/log\n\u0665\n{ROOT64}\n", "decimal"),  # Arabic-Indic digit five
        (f"example.com/log\n1_000\n{ROOT64}\n", "decimal"),
        (f"example.com/log\n{2**63}\n{ROOT64}\n", "outside"),
        ("example.com/log\n5\nnot base64!\n", "base64"),
        ("example.com/log\n5\nAAAA\n", "3 bytes"),
        (f"example.com/log\n5\n{ROOT64}\n\n", "empty"),
        (f"example.com/log\r\n5\n{ROOT64}\n", "control character"),
    ],
)
def test_malformed_bodies_are_rejected_clearly(body: str, complaint: str) -> None:
    with pytest.raises(MalformedCheckpointError, match=complaint):
        Checkpoint.parse(body)


def test_malformed_checkpoint_is_a_verification_error() -> None:
    with pytest.raises(VerificationError):
        Checkpoint.parse(b"\xff\n1\n" + ROOT64.encode() + b"\n")


def test_sign_and_verify() -> None:
    cp = Checkpoint("example.com/log", 42, ROOT)
    signed = sign_checkpoint(cp, LOG)
    text = signed.to_text()
    assert text.startswith(cp.body().decode() + "\n\u2014 example.com/log ")
    assert verify_checkpoint(text, LOG.vkey()).checkpoint == cp
    assert verify_checkpoint(signed.to_bytes(), LOG.verifier()).checkpoint == cp


def test_verify_rejects_other_key_and_tampering() -> None:
    cp = Checkpoint("example.com/log", 42, ROOT)
    text = sign_checkpoint(cp, LOG).to_text()
    impostor = Ed25519Signer("example.com/log", bytes([2]) * 32)
    with pytest.raises(MissingSignatureError, match="example.com/log"):
        verify_checkpoint(sign_checkpoint(cp, impostor).to_text(), LOG.vkey())
    with pytest.raises(InvalidSignatureError, match="does not verify"):
        verify_checkpoint(text.replace("\n42\n", "\n43\n"), LOG.vkey())


def test_signed_checkpoint_must_match_its_note() -> None:
    cp = Checkpoint("example.com/log", 42, ROOT)
    other = sign_note(Checkpoint("example.com/log", 41, ROOT).body().decode(), LOG)
    with pytest.raises(MalformedCheckpointError):
        SignedCheckpoint(cp, other)


def test_cosignature_lines_can_be_added_and_unknown_ones_ignored() -> None:
    cp = Checkpoint("example.com/log", 42, ROOT)
    witness = Ed25519Signer("witness.example/w1", bytes([3]) * 32)
    signed = sign_checkpoint(cp, LOG)
    cosigned = signed.with_signatures(sign_note(signed.note, witness).signatures[-1:])
    assert len(cosigned.note.signatures) == 2
    assert verify_checkpoint(cosigned.to_text(), LOG.vkey()).checkpoint == cp
