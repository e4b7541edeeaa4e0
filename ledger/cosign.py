"""Witness cosignatures over checkpoints: standard Ed25519 `cosignature/v1` and aggregatable BLS.

Ed25519 (c2sp.org/tlog-cosignature, signature type 0x04) is what any C2SP tooling understands: the
signed message is "cosignature/v1\\ntime <unix>\\n" + checkpoint body and the note signature value is
key ID || 8-byte big-endian timestamp || 64-byte signature.

BLS12-381 (IETF ciphersuite BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_, py_ecc's
G2ProofOfPossession) lets N witness cosignatures collapse into one 96-byte aggregate checked by a
single FastAggregateVerify. Because every witness must sign the *same* message to aggregate, the BLS
message carries no timestamp: it is b"cbamhub-bls-cosignature/v1\\n" + checkpoint body. In a note it
is an ordinary signature line that other tooling ignores as an unknown key:

    — <witness name> base64(key ID || 96-byte BLS signature)
    key ID = SHA-256(<witness name> || 0x0A || 0xff || "cbamhub-bls-cosignature/v1" || 48-byte pubkey)[:4]

0xff is the signed-note type byte reserved for signature types without an assigned byte, followed by
our longer identifier as that spec recommends. Aggregation is only sound against rogue-key attacks if
every key proved possession of its secret, so `BlsPublicKey` cannot be built without a valid proof.

py_ecc is the reference implementation (~0.1 s per sign, ~0.3 s per verify: never use per record).
When the optional `blspy` package is installed it serves as a byte-identical fast path for signing,
aggregation and verification; set CBAMHUB_BLS_BACKEND=py_ecc to force the reference.
"""

from __future__ import annotations

import functools
import importlib
import os
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from eth_typing import BLSPubkey, BLSSignature
from py_ecc.bls.ciphersuites import G2ProofOfPossession as _PopScheme

from .checkpoint import Checkpoint
from .note import (
    Ed25519Signer,
    InvalidSignatureError,
    MalformedNoteError,
    Signature,
    ed25519_verify,
    format_vkey,
    is_valid_name,
    key_id,
    parse_vkey,
)
from .verify import VerificationError

# --------------------------------------------------------------------------------------------------
# Ed25519 cosignature/v1

SIG_TYPE_ED25519 = 0x01
SIG_TYPE_COSIGNATURE_V1 = 0x04
TIMESTAMP_SIZE = 8
MAX_TIMESTAMP = 2**63 - 1


def cosignature_message(body: bytes, timestamp: int) -> bytes:
    """The bytes an Ed25519 cosigner signs for a checkpoint body at a POSIX time (tlog-cosignature)."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"cosignature timestamp {timestamp} is outside 0..2^63-1")
    return b"cosignature/v1\ntime %d\n" % timestamp + body


@dataclass(frozen=True)
class CosignatureVerifier:
    """Checks one witness's Ed25519 cosignature/v1 signatures (a NoteVerifier)."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_name(self.name):
            raise ValueError(f"invalid witness name {self.name!r}: empty, or has a space or '+'")
        if len(self.public_key) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(self.public_key)}")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, bytes([SIG_TYPE_COSIGNATURE_V1]) + self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """`message` is the checkpoint body; `signature` is timestamp || Ed25519 signature."""
        if len(signature) != TIMESTAMP_SIZE + 64:
            return False
        (timestamp,) = struct.unpack(">Q", signature[:TIMESTAMP_SIZE])
        if timestamp > MAX_TIMESTAMP:
            return False
        signed = cosignature_message(message, timestamp)
        return ed25519_verify(self.public_key, signed, signature[TIMESTAMP_SIZE:])

    def vkey(self) -> str:
        """Verifier key with type 0x04, as transparency-dev's VKeyToCosignatureV1 produces."""
        return format_vkey(self.name, bytes([SIG_TYPE_COSIGNATURE_V1]) + self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Accept a 0x04 cosignature vkey, or a plain 0x01 Ed25519 vkey of the same key (as Go does)."""
        name, _, typed_key = parse_vkey(vkey)
        if typed_key[0] not in (SIG_TYPE_ED25519, SIG_TYPE_COSIGNATURE_V1) or len(typed_key) != 33:
            raise ValueError(f"verifier key {vkey!r} is not an Ed25519 (0x01 or 0x04) key")
        return cls(name, typed_key[1:])


class CosignatureSigner:
    """A witness's Ed25519 cosigner (a NoteSigner: `sign_note(note, cosigner)` adds its line)."""

    def __init__(self, name: str, seed: bytes, clock: Callable[[], float] = time.time) -> None:
        self._signer = Ed25519Signer(name, seed)
        self._clock = clock

    @property
    def name(self) -> str:
        return self._signer.name

    @property
    def public_key(self) -> bytes:
        return self._signer.public_key

    @property
    def key_id(self) -> bytes:
        return self.verifier().key_id

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)

    def vkey(self) -> str:
        return self.verifier().vkey()

    def sign(self, message: bytes, timestamp: int | None = None) -> bytes:
        """Cosign a checkpoint body: returns timestamp || signature (the note signature bytes)."""
        when = int(self._clock()) if timestamp is None else timestamp
        signature = self._signer.sign(cosignature_message(message, when))
        return struct.pack(">Q", when) + signature

    def cosign(self, checkpoint: Checkpoint, timestamp: int | None = None) -> Signature:
        return Signature(self.name, self.key_id, self.sign(checkpoint.body(), timestamp))


def cosignature_timestamp(signature: Signature) -> int:
    """The POSIX time embedded in an Ed25519 cosignature/v1 signature."""
    if len(signature.signature) != TIMESTAMP_SIZE + 64:
        raise MalformedNoteError(
            f"cosignature by {signature.key} is not timestamp || Ed25519 signature"
        )
    (timestamp,) = struct.unpack(">Q", signature.signature[:TIMESTAMP_SIZE])
    return int(timestamp)


def verify_cosignature(
    checkpoint: Checkpoint, signature: Signature, verifier: CosignatureVerifier
) -> int:
    """Check one cosignature line on `checkpoint`; return its timestamp or raise VerificationError."""
    if (signature.name, signature.key_id) != (verifier.name, verifier.key_id):
        raise VerificationError(
            f"signature {signature.key} is not by witness key {verifier.name}+{verifier.key_id.hex()}"
        )
    if not verifier.verify(checkpoint.body(), signature.signature):
        raise InvalidSignatureError(
            f"cosignature by {signature.key} does not verify for {checkpoint.origin} at size {checkpoint.size}"
        )
    return cosignature_timestamp(signature)


# --------------------------------------------------------------------------------------------------
# BLS12-381 backends: py_ecc is the reference, blspy an optional byte-identical fast path


class _BlsBackend(Protocol):
    name: str

    def sk_to_pk(self, secret: int) -> bytes: ...
    def sign(self, secret: int, message: bytes) -> bytes: ...
    def pop_prove(self, secret: int) -> bytes: ...
    def pop_verify(self, public_key: bytes, proof: bytes) -> bool: ...
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...
    def aggregate(self, signatures: Sequence[bytes]) -> bytes: ...
    def fast_aggregate_verify(
        self, public_keys: Sequence[bytes], message: bytes, signature: bytes
    ) -> bool: ...


class _PyEccBackend:
    name = "py_ecc"

    def sk_to_pk(self, secret: int) -> bytes:
        return bytes(_PopScheme.SkToPk(secret))

    def sign(self, secret: int, message: bytes) -> bytes:
        return bytes(_PopScheme.Sign(secret, message))

    def pop_prove(self, secret: int) -> bytes:
        return bytes(_PopScheme.PopProve(secret))

    def pop_verify(self, public_key: bytes, proof: bytes) -> bool:
        return bool(_PopScheme.PopVerify(BLSPubkey(public_key), BLSSignature(proof)))

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return bool(_PopScheme.Verify(BLSPubkey(public_key), message, BLSSignature(signature)))

    def aggregate(self, signatures: Sequence[bytes]) -> bytes:
        try:
            return bytes(_PopScheme.Aggregate([BLSSignature(s) for s in signatures]))
        except Exception as exc:  # py_ecc raises assorted types for bad points
            raise VerificationError(f"cannot aggregate BLS signatures: {exc}") from exc

    def fast_aggregate_verify(
        self, public_keys: Sequence[bytes], message: bytes, signature: bytes
    ) -> bool:
        pks = [BLSPubkey(pk) for pk in public_keys]
        return bool(_PopScheme.FastAggregateVerify(pks, message, BLSSignature(signature)))


class _BlspyBackend:
    name = "blspy"

    def __init__(self) -> None:
        blspy = importlib.import_module("blspy")  # optional, untyped C extension
        self._scheme = blspy.PopSchemeMPL
        self._sk = blspy.PrivateKey.from_bytes
        self._g1 = blspy.G1Element.from_bytes
        self._g2 = blspy.G2Element.from_bytes

    def _secret(self, secret: int) -> object:
        return self._sk(secret.to_bytes(32, "big"))

    def sk_to_pk(self, secret: int) -> bytes:
        return bytes(self._secret(secret).get_g1())  # type: ignore[attr-defined]

    def sign(self, secret: int, message: bytes) -> bytes:
        return bytes(self._scheme.sign(self._secret(secret), message))

    def pop_prove(self, secret: int) -> bytes:
        return bytes(self._scheme.pop_prove(self._secret(secret)))

    def pop_verify(self, public_key: bytes, proof: bytes) -> bool:
        try:
            return bool(self._scheme.pop_verify(self._g1(public_key), self._g2(proof)))
        except (ValueError, RuntimeError):
            return False

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            return bool(self._scheme.verify(self._g1(public_key), message, self._g2(signature)))
        except (ValueError, RuntimeError):
            return False

    def aggregate(self, signatures: Sequence[bytes]) -> bytes:
        try:
            return bytes(self._scheme.aggregate([self._g2(s) for s in signatures]))
        except (ValueError, RuntimeError) as exc:
            raise VerificationError(f"cannot aggregate BLS signatures: {exc}") from exc

    def fast_aggregate_verify(
        self, public_keys: Sequence[bytes], message: bytes, signature: bytes
    ) -> bool:
        try:
            pks = [self._g1(pk) for pk in public_keys]
            return bool(self._scheme.fast_aggregate_verify(pks, message, self._g2(signature)))
        except (ValueError, RuntimeError):
            return False


REFERENCE_BACKEND: _BlsBackend = _PyEccBackend()


def _load_fast_backend() -> _BlsBackend | None:
    try:
        return _BlspyBackend()
    except ImportError:
        return None


FAST_BACKEND: _BlsBackend | None = _load_fast_backend()
_backend: _BlsBackend = (
    FAST_BACKEND
    if FAST_BACKEND is not None and os.environ.get("CBAMHUB_BLS_BACKEND", "") != "py_ecc"
    else REFERENCE_BACKEND
)


def bls_backend() -> str:
    """Which BLS implementation is in use: "blspy" (fast path) or "py_ecc" (reference)."""
    return _backend.name


def set_bls_backend(name: str) -> None:
    """Switch between "py_ecc" and "blspy" (e.g. to benchmark or cross-check them)."""
    global _backend
    if name == "py_ecc":
        _backend = REFERENCE_BACKEND
    elif name == "blspy" and FAST_BACKEND is not None:
        _backend = FAST_BACKEND
    else:
        raise ValueError(f"BLS backend {name!r} is not available")


# --------------------------------------------------------------------------------------------------
# BLS keys, signatures and aggregation

SIG_TYPE_EXTENDED = 0xFF
BLS_TYPE_IDENTIFIER = b"cbamhub-bls-cosignature/v1"
BLS_MESSAGE_PREFIX = BLS_TYPE_IDENTIFIER + b"\n"
BLS_PUBLIC_KEY_SIZE = 48
BLS_SIGNATURE_SIZE = 96
_CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001


def bls_message(checkpoint_body: bytes) -> bytes:
    """Domain-separated BLS message, so a BLS cosignature can never be replayed as anything else."""
    return BLS_MESSAGE_PREFIX + checkpoint_body


def bls_key_id(name: str, public_key: bytes) -> bytes:
    """Signed-note key ID of a witness's BLS key (type 0xff + our identifier)."""
    return key_id(name, bytes([SIG_TYPE_EXTENDED]) + BLS_TYPE_IDENTIFIER + public_key)


@functools.lru_cache(maxsize=1024)
def _proof_is_valid(public_key: bytes, proof: bytes) -> bool:
    # KeyValidate (py_ecc, cheap) rejects the identity and off-subgroup points; the pairing check may
    # use the fast path. Cached: keys are configured once but policies get built repeatedly.
    if not _PopScheme.KeyValidate(BLSPubkey(public_key)):
        return False
    return _backend.pop_verify(public_key, proof)


@dataclass(frozen=True)
class BlsPublicKey:
    """A witness's BLS public key together with its proof of possession, checked on construction."""

    key: bytes
    proof: bytes

    def __post_init__(self) -> None:
        if len(self.key) != BLS_PUBLIC_KEY_SIZE or len(self.proof) != BLS_SIGNATURE_SIZE:
            raise VerificationError(
                f"a BLS public key is {BLS_PUBLIC_KEY_SIZE} bytes and its proof {BLS_SIGNATURE_SIZE}, "
                f"got {len(self.key)} and {len(self.proof)}"
            )
        if not _proof_is_valid(self.key, self.proof):
            raise VerificationError(
                f"BLS key {self.key.hex()[:16]}... has no valid proof of possession: refusing it, "
                "since an unproven key enables rogue-key forgery of aggregate signatures"
            )


class BlsSigner:
    """A witness's BLS secret key (a NoteSigner: it signs the domain-separated checkpoint body)."""

    def __init__(self, name: str, secret_key: bytes) -> None:
        if not is_valid_name(name):
            raise ValueError(f"invalid witness name {name!r}: empty, or has a space or '+'")
        if len(secret_key) != 32:
            raise ValueError(
                f"a BLS secret key is 32 bytes (big-endian scalar), got {len(secret_key)}"
            )
        secret = int.from_bytes(secret_key, "big")
        if not 0 < secret < _CURVE_ORDER:
            raise ValueError("BLS secret key is zero or not below the curve order")
        self._name = name
        self._secret = secret
        self.public_key: bytes = _backend.sk_to_pk(secret)

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> BlsSigner:
        """Derive the key from >= 32 bytes of seed material with the IETF KeyGen (HKDF)."""
        if len(seed) < 32:
            raise ValueError("BLS key generation needs at least 32 bytes of seed")
        return cls(name, _PopScheme.KeyGen(seed).to_bytes(32, "big"))

    @classmethod
    def generate(cls, name: str) -> BlsSigner:
        return cls.from_seed(name, os.urandom(32))

    @property
    def name(self) -> str:
        return self._name

    @property
    def secret_key(self) -> bytes:
        return self._secret.to_bytes(32, "big")

    @property
    def key_id(self) -> bytes:
        return bls_key_id(self._name, self.public_key)

    def proof_of_possession(self) -> bytes:
        return _backend.pop_prove(self._secret)

    def public(self) -> BlsPublicKey:
        """The public key with its proof, ready to go into a WitnessPolicy."""
        return BlsPublicKey(self.public_key, self.proof_of_possession())

    def sign(self, message: bytes) -> bytes:
        """Sign a checkpoint body (note text); the domain prefix is added here."""
        return _backend.sign(self._secret, bls_message(message))

    def cosign(self, checkpoint: Checkpoint) -> Signature:
        return Signature(self._name, self.key_id, self.sign(checkpoint.body()))


@dataclass(frozen=True)
class BlsCosignatureVerifier:
    """Checks one witness's BLS cosignature line (a NoteVerifier); costs a pairing, so use sparingly."""

    name: str
    public_key: BlsPublicKey

    @property
    def key_id(self) -> bytes:
        return bls_key_id(self.name, self.public_key.key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != BLS_SIGNATURE_SIZE:
            return False
        return _backend.verify(self.public_key.key, bls_message(message), signature)


def bls_verify(public_key: BlsPublicKey, checkpoint: Checkpoint, signature: bytes) -> bool:
    """Check one witness's BLS signature over a checkpoint."""
    if len(signature) != BLS_SIGNATURE_SIZE:
        return False
    return _backend.verify(public_key.key, bls_message(checkpoint.body()), signature)


def aggregate(signatures: Sequence[bytes]) -> bytes:
    """Combine BLS signatures over the same checkpoint into one 96-byte signature."""
    if not signatures:
        raise ValueError("cannot aggregate zero BLS signatures")
    for s in signatures:
        if len(s) != BLS_SIGNATURE_SIZE:
            raise VerificationError(f"a BLS signature is {BLS_SIGNATURE_SIZE} bytes, got {len(s)}")
    return _backend.aggregate(signatures)


class NotFinalError(VerificationError):
    """A checkpoint lacks the witness quorum that makes it final."""


@dataclass(frozen=True)
class Finality:
    """Outcome of a finality check. Not final is a normal result (too few witnesses yet), not an error."""

    final: bool
    signers: tuple[str, ...]
    threshold: int
    reason: str

    def raise_unless_final(self) -> None:
        if not self.final:
            raise NotFinalError(self.reason)


class WitnessPolicy:
    """Which witnesses count (name -> PoP-checked BLS key) and how many must cosign for finality."""

    def __init__(self, witnesses: Mapping[str, BlsPublicKey], threshold: int) -> None:
        for name, key in witnesses.items():
            if not isinstance(key, BlsPublicKey):
                raise TypeError(
                    f"witness {name!r}: expected a BlsPublicKey (key + proof of possession), "
                    f"got {type(key).__name__}"
                )
            if not is_valid_name(name):
                raise ValueError(f"invalid witness name {name!r}")
        keys = [k.key for k in witnesses.values()]
        if len(set(keys)) != len(keys):
            raise ValueError(
                "two witnesses share a BLS key: one key would count twice toward the threshold"
            )
        if not 1 <= threshold <= len(witnesses):
            raise ValueError(
                f"threshold {threshold} must be between 1 and the {len(witnesses)} witnesses"
            )
        self.witnesses: Mapping[str, BlsPublicKey] = dict(witnesses)
        self.threshold = threshold

    def verifier(self, name: str) -> BlsCosignatureVerifier:
        return BlsCosignatureVerifier(name, self.witnesses[name])

    def witness_for(self, signature: Signature) -> str | None:
        """The policy witness whose BLS key made this signature line, if any."""
        key = self.witnesses.get(signature.name)
        if key is not None and bls_key_id(signature.name, key.key) == signature.key_id:
            return signature.name
        return None

    def verify_final(
        self, checkpoint: Checkpoint, signer_names: Sequence[str], aggregate_sig: bytes
    ) -> Finality:
        """Is `checkpoint` final, i.e. did >= threshold distinct known witnesses cosign it?

        Returns a Finality; never raises for bad input: duplicated or unknown signers and a signature
        that does not verify all yield `final=False` with the reason. Below the threshold the
        (expensive) pairing check is skipped: the answer is "not final" either way.
        """
        names = tuple(signer_names)

        def refuse(reason: str) -> Finality:
            return Finality(False, names, self.threshold, reason)

        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            return refuse(f"signer(s) listed more than once: {', '.join(duplicates)}")
        unknown = [n for n in names if n not in self.witnesses]
        if unknown:
            return refuse(f"signer(s) not in the witness policy: {', '.join(unknown)}")
        if len(names) < self.threshold:
            return refuse(
                f"cosigned by {len(names)} of the {self.threshold} witnesses required "
                f"(out of {len(self.witnesses)})"
            )
        if len(aggregate_sig) != BLS_SIGNATURE_SIZE:
            return refuse(
                f"aggregate signature is {len(aggregate_sig)} bytes, not {BLS_SIGNATURE_SIZE}"
            )
        keys = [self.witnesses[n].key for n in names]
        if not _backend.fast_aggregate_verify(keys, bls_message(checkpoint.body()), aggregate_sig):
            return refuse(
                f"aggregate BLS signature of {', '.join(names)} does not verify for "
                f"{checkpoint.origin} at size {checkpoint.size}"
            )
        return Finality(
            True,
            names,
            self.threshold,
            f"cosigned by {len(names)} of {self.threshold} required witnesses",
        )
