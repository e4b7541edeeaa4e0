"""Witness cosignatures: Ed25519 cosignature/v1 (C2SP) and aggregated BLS with proofs of possession.

BLS work is slow with py_ecc (~0.1 s sign, ~0.3 s verify), so keys and signatures are made once per
module and only a handful of pairing checks run.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterator

import pytest
from cbamhub.ledger import cosign
from cbamhub.ledger.checkpoint import Checkpoint, sign_checkpoint
from cbamhub.ledger.cosign import (
    BlsCosignatureVerifier,
    BlsPublicKey,
    BlsSigner,
    CosignatureSigner,
    CosignatureVerifier,
    NotFinalError,
    WitnessPolicy,
    aggregate,
    bls_key_id,
    bls_message,
    bls_verify,
    cosignature_message,
    cosignature_timestamp,
    verify_cosignature,
)
from cbamhub.ledger.note import (
    Ed25519Signer,
    InvalidSignatureError,
    Signature,
    key_id,
    sign_note,
    verify_note,
)
from cbamhub.ledger.verify import VerificationError
from eth_typing import BLSPubkey
from py_ecc.bls.g2_primitives import G1_to_pubkey, pubkey_to_G1
from py_ecc.optimized_bls12_381.optimized_curve import G1, add, multiply, neg

ROOT = hashlib.sha256(b"some root").digest()
CHECKPOINT = Checkpoint("example.com/log", 7, ROOT)
LOG = Ed25519Signer("example.com/log", bytes([1]) * 32)

# The cosignature line of the C2SP tlog-cosignature example (its key is not published, so only the
# layout can be checked: key ID || 8-byte big-endian timestamp || 64-byte Ed25519 signature).
SPEC_COSIGNATURE_LINE = (
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrD"
    "JsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


# --------------------------------------------------------------------------------------------------
# Ed25519 cosignature/v1


def test_cosignature_message_is_exactly_the_spec_format() -> None:
    body = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert cosignature_message(body, 1679315147) == b"cosignature/v1\ntime 1679315147\n" + body
    with pytest.raises(ValueError):
        cosignature_message(body, 2**63)


def test_spec_example_line_has_the_cosignature_layout() -> None:
    sig = Signature.parse_line(SPEC_COSIGNATURE_LINE)
    assert sig.key_id.hex() == "8d66cf3f"
    assert len(sig.signature) == 8 + 64
    assert cosignature_timestamp(sig) == 1679315147  # the time in the spec's example message


def test_cosignature_key_id_uses_type_0x04_and_vkeys_round_trip() -> None:
    witness = CosignatureSigner("witness.example/w1", bytes([9]) * 32)
    assert witness.key_id == key_id("witness.example/w1", b"\x04" + witness.public_key)
    assert witness.key_id != Ed25519Signer("witness.example/w1", bytes([9]) * 32).key_id
    verifier = CosignatureVerifier.from_vkey(witness.vkey())
    assert verifier == witness.verifier()
    assert base64.b64decode(witness.vkey().split("+")[2])[0] == 0x04
    # A plain 0x01 vkey of the same key is accepted and treated as a cosignature key (as Go does).
    plain = Ed25519Signer("witness.example/w1", bytes([9]) * 32).vkey()
    assert CosignatureVerifier.from_vkey(plain).key_id == witness.key_id


def test_cosign_and_verify_with_timestamp() -> None:
    witness = CosignatureSigner(
        "witness.example/w1", bytes([9]) * 32, clock=lambda: 1_700_000_000.7
    )
    sig = witness.cosign(CHECKPOINT)
    raw = base64.b64decode(sig.line().split()[-1])
    assert raw[:4] == witness.key_id
    assert struct.unpack(">Q", raw[4:12]) == (1_700_000_000,)
    assert len(raw) == 4 + 8 + 64
    assert verify_cosignature(CHECKPOINT, sig, witness.verifier()) == 1_700_000_000
    other = Checkpoint("example.com/log", 8, ROOT)
    with pytest.raises(InvalidSignatureError, match="does not verify"):
        verify_cosignature(other, sig, witness.verifier())


def test_cosigned_note_verifies_for_log_and_witness_and_tampering_is_caught() -> None:
    witness = CosignatureSigner("witness.example/w1", bytes([9]) * 32)
    note = sign_note(sign_checkpoint(CHECKPOINT, LOG).note, witness)
    both = verify_note(note.to_text(), [LOG.verifier(), witness.verifier()])
    assert {s.name for s in both} == {"example.com/log", "witness.example/w1"}
    # Changing the embedded timestamp breaks the signature.
    sig = note.signatures[-1]
    moved = Signature(sig.name, sig.key_id, struct.pack(">Q", 1) + sig.signature[8:])
    with pytest.raises(InvalidSignatureError, match="witness.example/w1"):
        verify_note(note.with_signatures([moved]), [witness.verifier()])


# --------------------------------------------------------------------------------------------------
# BLS


@pytest.fixture(scope="module")
def bls_signers() -> list[BlsSigner]:
    return [BlsSigner.from_seed(f"w{i}.example", bytes([i]) * 32) for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def bls_keys(bls_signers: list[BlsSigner]) -> dict[str, BlsPublicKey]:
    return {s.name: s.public() for s in bls_signers}


@pytest.fixture(scope="module")
def bls_sigs(bls_signers: list[BlsSigner]) -> dict[str, bytes]:
    return {s.name: s.cosign(CHECKPOINT).signature for s in bls_signers}


@pytest.fixture
def reference_backend() -> Iterator[None]:
    """Run a test on py_ecc, the reference, whatever the default backend is."""
    previous = cosign.bls_backend()
    cosign.set_bls_backend("py_ecc")
    try:
        yield
    finally:
        cosign.set_bls_backend(previous)


def test_bls_line_format(bls_signers: list[BlsSigner]) -> None:
    signer = bls_signers[0]
    sig = signer.cosign(CHECKPOINT)
    assert (
        sig.key_id
        == hashlib.sha256(
            b"w1.example\n\xffcbamhub-bls-cosignature/v1" + signer.public_key
        ).digest()[:4]
    )
    assert sig.key_id == bls_key_id("w1.example", signer.public_key)
    raw = base64.b64decode(sig.line().split()[-1])
    assert len(raw) == 4 + 96
    assert bls_message(CHECKPOINT.body()) == b"cbamhub-bls-cosignature/v1\n" + CHECKPOINT.body()


def test_policy_threshold_2_of_3(
    bls_keys: dict[str, BlsPublicKey], bls_sigs: dict[str, bytes], reference_backend: None
) -> None:
    policy = WitnessPolicy(bls_keys, threshold=2)

    one = policy.verify_final(CHECKPOINT, ["w1.example"], bls_sigs["w1.example"])
    assert not one.final
    assert "1 of the 2" in one.reason
    with pytest.raises(NotFinalError, match="1 of the 2"):
        one.raise_unless_final()

    two = ["w1.example", "w3.example"]
    agg = aggregate([bls_sigs[n] for n in two])
    result = policy.verify_final(CHECKPOINT, two, agg)
    assert result.final, result.reason
    result.raise_unless_final()

    # The same aggregate does not make another checkpoint final, nor another pair of signers.
    assert not policy.verify_final(Checkpoint("example.com/log", 8, ROOT), two, agg).final
    assert not policy.verify_final(CHECKPOINT, ["w1.example", "w2.example"], agg).final


def test_duplicated_and_unknown_signers_cannot_reach_the_threshold(
    bls_keys: dict[str, BlsPublicKey], bls_sigs: dict[str, bytes]
) -> None:
    policy = WitnessPolicy(bls_keys, threshold=2)
    doubled = aggregate([bls_sigs["w1.example"], bls_sigs["w1.example"]])
    result = policy.verify_final(CHECKPOINT, ["w1.example", "w1.example"], doubled)
    assert not result.final and "more than once" in result.reason
    stranger = BlsSigner.from_seed("mallory.example", bytes([66]) * 32)
    forged = aggregate([bls_sigs["w1.example"], stranger.cosign(CHECKPOINT).signature])
    result = policy.verify_final(CHECKPOINT, ["w1.example", "mallory.example"], forged)
    assert not result.final and "not in the witness policy" in result.reason
    # Mallory's signature passed off under a member's name fails the pairing check.
    result = policy.verify_final(CHECKPOINT, ["w1.example", "w2.example"], forged)
    assert not result.final and "does not verify" in result.reason


def test_policy_rejects_shared_keys_raw_keys_and_bad_thresholds(
    bls_keys: dict[str, BlsPublicKey],
) -> None:
    key = bls_keys["w1.example"]
    with pytest.raises(ValueError, match="share a BLS key"):
        WitnessPolicy({"a.example": key, "b.example": key}, threshold=2)
    with pytest.raises(TypeError, match="proof of possession"):
        WitnessPolicy({"a.example": key.key}, threshold=1)  # type: ignore[dict-item]
    for threshold in (0, 4):
        with pytest.raises(ValueError, match="threshold"):
            WitnessPolicy(bls_keys, threshold=threshold)


def test_keys_without_valid_proof_of_possession_are_rejected(
    bls_keys: dict[str, BlsPublicKey],
) -> None:
    w1, w2 = bls_keys["w1.example"], bls_keys["w2.example"]
    with pytest.raises(VerificationError, match="proof of possession"):
        BlsPublicKey(w1.key, w2.proof)  # someone else's proof
    with pytest.raises(VerificationError, match="proof of possession"):
        BlsPublicKey(w1.key, b"\xc0" + bytes(95))  # the identity point
    with pytest.raises(VerificationError):
        BlsPublicKey(w1.key[:47], w1.proof)


def test_rogue_key_attack_works_without_pop_and_is_stopped_by_it(
    bls_keys: dict[str, BlsPublicKey], reference_backend: None
) -> None:
    """Why PoP: pk_rogue = a*G1 - pk_victim makes a*H(m) a valid 'aggregate' of victim and rogue."""
    victim = bls_keys["w1.example"].key
    a = 123456789
    rogue = bytes(G1_to_pubkey(add(multiply(G1, a), neg(pubkey_to_G1(BLSPubkey(victim))))))
    forged = cosign.REFERENCE_BACKEND.sign(a, bls_message(CHECKPOINT.body()))
    assert cosign.REFERENCE_BACKEND.fast_aggregate_verify(
        [victim, rogue], bls_message(CHECKPOINT.body()), forged
    )
    # The attacker cannot prove possession of the rogue key's secret, so it never enters a policy.
    with pytest.raises(VerificationError, match="proof of possession"):
        BlsPublicKey(rogue, cosign.REFERENCE_BACKEND.pop_prove(a))


def test_single_bls_verification_and_note_verifier(
    bls_signers: list[BlsSigner], bls_keys: dict[str, BlsPublicKey], bls_sigs: dict[str, bytes]
) -> None:
    w1 = bls_keys["w1.example"]
    assert bls_verify(w1, CHECKPOINT, bls_sigs["w1.example"])
    assert not bls_verify(w1, CHECKPOINT, bls_sigs["w2.example"])
    note = sign_note(sign_checkpoint(CHECKPOINT, LOG).note, bls_signers[0])
    verifier = BlsCosignatureVerifier("w1.example", w1)
    (sig,) = verify_note(note.to_text(), [verifier])  # the log's line is ignored as unknown
    assert sig.key_id == verifier.key_id
    with pytest.raises(ValueError):
        aggregate([])


@pytest.mark.skipif(
    cosign.FAST_BACKEND is None, reason="blspy (the optional fast path) is not installed"
)
def test_fast_backend_is_byte_identical_to_py_ecc(bls_signers: list[BlsSigner]) -> None:
    ref, fast = cosign.REFERENCE_BACKEND, cosign.FAST_BACKEND
    assert fast is not None
    message = bls_message(CHECKPOINT.body())
    secrets = [int.from_bytes(s.secret_key, "big") for s in bls_signers]
    ref_sigs = [ref.sign(k, message) for k in secrets]
    for k, ref_sig in zip(secrets, ref_sigs, strict=True):
        assert fast.sk_to_pk(k) == ref.sk_to_pk(k)
        assert fast.sign(k, message) == ref_sig
        assert fast.pop_prove(k) == ref.pop_prove(k)
    assert fast.aggregate(ref_sigs) == ref.aggregate(ref_sigs)
    pks = [ref.sk_to_pk(k) for k in secrets]
    agg = ref.aggregate(ref_sigs)
    assert fast.fast_aggregate_verify(pks, message, agg) and ref.fast_aggregate_verify(
        pks, message, agg
    )
    bad = ref.aggregate(ref_sigs[:2])
    assert not fast.fast_aggregate_verify(pks, message, bad)
    assert not ref.fast_aggregate_verify(pks, message, bad)
    assert fast.pop_verify(pks[0], ref.pop_prove(secrets[0]))
    assert not fast.pop_verify(pks[0], ref.pop_prove(secrets[1]))
    assert not fast.verify(pks[0], message, b"\x01" * 96)  # not a curve point: False, no exception
