"""C2SP signed notes (c2sp.org/signed-note), compatible with Go's golang.org/x/mod/sumdb/note.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
``— <key name> <base64(4-byte key ID || signature)>``. Checkpoints and witness cosignatures are both
signed notes, so this module is the one place that parses and formats them. Signature algorithms plug
in through the small `NoteSigner` / `NoteVerifier` protocols; the Ed25519 pair (type 0x01) lives here,
cosignatures live in `cosign`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import nacl.exceptions
import nacl.signing

from .verify import VerificationError

SIG_TYPE_ED25519 = 0x01
"""Signature type byte of plain Ed25519 note signatures (c2sp.org/signed-note)."""

KEY_ID_SIZE = 4
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
"""Go's limit; the spec asks verifiers to accept at least 16 and to bound the work per note."""


class MalformedNoteError(VerificationError):
    """The bytes are not a well-formed signed note (syntax, not cryptography)."""


class InvalidSignatureError(VerificationError):
    """A signature by a known key does not verify: the text or the signature was altered."""


class MissingSignatureError(VerificationError):
    """The note carries no valid signature by a key the caller requires."""


def key_id(name: str, typed_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type byte || public key)[:4], the recommended signed-note key ID."""
    return hashlib.sha256(name.encode() + b"\n" + typed_key).digest()[:KEY_ID_SIZE]


def is_valid_name(name: str) -> bool:
    """Key names are non-empty and contain neither Unicode spaces nor '+' (as Go's isValidName)."""
    return bool(name) and "+" not in name and not any(_is_space(c) for c in name)


def _is_space(c: str) -> bool:
    # Go's unicode.IsSpace: the ASCII/Latin-1 spaces plus every character of category Z (Zs, Zl, Zp).
    return c in "\t\n\v\f\r \x85\xa0" or unicodedata.category(c).startswith("Z")


def b64decode(value: str, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4); a clear MalformedNoteError otherwise."""
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise MalformedNoteError(f"{what} is not valid base64: {value!r}") from exc


def b64encode(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


# --------------------------------------------------------------------------------------------------
# Notes and signature lines


@dataclass(frozen=True)
class Signature:
    """One signature line: who signed (name, key ID) and the algorithm-specific signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_name(self.name):
            raise MalformedNoteError(
                f"invalid key name {self.name!r}: empty, or has a space or '+'"
            )
        if len(self.key_id) != KEY_ID_SIZE:
            raise MalformedNoteError(f"a key ID is {KEY_ID_SIZE} bytes, got {len(self.key_id)}")
        if not self.signature:
            raise MalformedNoteError(f"empty signature by {self.name}")

    @property
    def key(self) -> str:
        """`name+hexid`, how Go names a key in its error messages."""
        return f"{self.name}+{self.key_id.hex()}"

    def line(self) -> str:
        """The signature line, newline included."""
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(self.key_id + self.signature)}\n"

    @classmethod
    def parse_line(cls, line: str) -> Signature:
        """Parse one signature line, with or without its final newline."""
        line = line.removesuffix("\n")
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedNoteError(
                f"signature line does not start with an em dash and a space: {line!r}"
            )
        name, sep, value = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep or not value:
            raise MalformedNoteError(
                f"signature line has no signature after the key name: {line!r}"
            )
        raw = b64decode(value, f"signature by {name}")
        if len(raw) < KEY_ID_SIZE + 1:
            raise MalformedNoteError(
                f"signature by {name} is {len(raw)} bytes, shorter than a key ID + 1"
            )
        return cls(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def parse_signature_lines(text: str) -> tuple[Signature, ...]:
    """Parse a block of signature lines, e.g. a witness's add-checkpoint response."""
    if text and not text.endswith("\n"):
        raise MalformedNoteError("signature lines must each end in a newline")
    # split("\n"), not splitlines(): the latter also breaks at U+2028, U+0085 and friends.
    return tuple(Signature.parse_line(line) for line in text.split("\n")[:-1])


def _check_characters(text: str) -> None:
    for position, c in enumerate(text):
        if c < " " and c != "\n":
            raise MalformedNoteError(f"control character {c!r} at position {position}")


@dataclass(frozen=True)
class Note:
    """A note text and its signatures (verified or not: `verify_note` is what decides trust)."""

    text: str
    signatures: tuple[Signature, ...] = ()

    def __post_init__(self) -> None:
        if not self.text.endswith("\n"):
            raise MalformedNoteError("note text must end in a newline")
        _check_characters(self.text)

    def to_text(self) -> str:
        """The note in wire form: text, blank line, signature lines."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def to_bytes(self) -> bytes:
        return self.to_text().encode()

    def with_signatures(self, signatures: Iterable[Signature]) -> Note:
        """Append signatures; a new one replaces an existing one by the same key (as Go's Sign)."""
        new = tuple(signatures)
        replaced = {(s.name, s.key_id) for s in new}
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) not in replaced)
        return Note(self.text, kept + new)

    @classmethod
    def parse(cls, data: bytes | str) -> Note:
        """Parse a signed note; no signature is checked here."""
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedNoteError(f"note is not valid UTF-8: {exc}") from exc
        _check_characters(data)
        split = data.rfind("\n\n")
        if split < 0:
            raise MalformedNoteError(
                "note has no blank line separating the text from the signatures"
            )
        text, block = data[: split + 1], data[split + 2 :]
        if not block:
            raise MalformedNoteError("note has no signature lines")
        if not block.endswith("\n"):
            raise MalformedNoteError("the last signature line does not end in a newline")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise MalformedNoteError(
                f"note has {len(lines)} signatures, more than the {MAX_SIGNATURES} allowed"
            )
        return cls(text, tuple(Signature.parse_line(line) for line in lines))


# --------------------------------------------------------------------------------------------------
# Signers and verifiers


class NoteSigner(Protocol):
    """Something that signs note text under a (name, key ID)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class NoteVerifier(Protocol):
    """Something that checks a signature over note text for one (name, key ID)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


def format_vkey(name: str, typed_key: bytes) -> str:
    """`<name>+<hex key ID>+<base64(type || public key)>`, Go's verifier key encoding."""
    if not is_valid_name(name):
        raise ValueError(f"invalid key name {name!r}: empty, or has a space or '+'")
    return f"{name}+{key_id(name, typed_key).hex()}+{b64encode(typed_key)}"


def parse_vkey(vkey: str) -> tuple[str, bytes, bytes]:
    """Split a verifier key into (name, key ID, type || public key), checking the key ID."""
    name, _, rest = vkey.partition("+")
    hex_id, _, key64 = rest.partition("+")
    if not is_valid_name(name):
        raise ValueError(f"malformed verifier key {vkey!r}: invalid key name {name!r}")
    kid = _parse_hex_id(hex_id, vkey)
    try:
        typed_key = base64.b64decode(key64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"malformed verifier key {vkey!r}: key is not base64") from exc
    if not typed_key:
        raise ValueError(f"malformed verifier key {vkey!r}: no key material")
    if kid != key_id(name, typed_key):
        raise ValueError(f"verifier key {vkey!r}: key ID {hex_id} does not match the name and key")
    return name, kid, typed_key


def _parse_hex_id(hex_id: str, whole: str) -> bytes:
    if len(hex_id) != 2 * KEY_ID_SIZE or not all(c in "0123456789abcdefABCDEF" for c in hex_id):
        raise ValueError(f"malformed key {whole!r}: key ID must be 8 hex digits, got {hex_id!r}")
    return bytes.fromhex(hex_id)


@dataclass(frozen=True)
class Ed25519Verifier:
    """Verifies plain Ed25519 note signatures (type 0x01) by one named key."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_name(self.name):
            raise ValueError(f"invalid key name {self.name!r}: empty, or has a space or '+'")
        if len(self.public_key) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(self.public_key)}")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, bytes([SIG_TYPE_ED25519]) + self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        return ed25519_verify(self.public_key, message, signature)

    def vkey(self) -> str:
        return format_vkey(self.name, bytes([SIG_TYPE_ED25519]) + self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> Ed25519Verifier:
        name, _, typed_key = parse_vkey(vkey)
        if typed_key[0] != SIG_TYPE_ED25519:
            raise ValueError(
                f"verifier key {vkey!r} has type 0x{typed_key[0]:02x}, not Ed25519 (0x01)"
            )
        if len(typed_key) != 33:
            raise ValueError(f"verifier key {vkey!r}: an Ed25519 public key is 32 bytes")
        return cls(name, typed_key[1:])


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(signature) != 64:
        return False
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


class Ed25519Signer:
    """Signs notes with an Ed25519 key (type 0x01) held as its 32-byte seed."""

    def __init__(self, name: str, seed: bytes) -> None:
        if not is_valid_name(name):
            raise ValueError(f"invalid key name {name!r}: empty, or has a space or '+'")
        if len(seed) != 32:
            raise ValueError(f"an Ed25519 seed is 32 bytes, got {len(seed)}")
        self._name = name
        self._seed = seed
        self._key = nacl.signing.SigningKey(seed)
        self.public_key: bytes = bytes(self._key.verify_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self.verifier().key_id

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self._name, self.public_key)

    def vkey(self) -> str:
        return self.verifier().vkey()

    def skey(self) -> str:
        """`PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`, Go's signer key encoding."""
        return f"PRIVATE+KEY+{self._name}+{self.key_id.hex()}+{b64encode(bytes([SIG_TYPE_ED25519]) + self._seed)}"

    @classmethod
    def from_skey(cls, skey: str) -> Ed25519Signer:
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise ValueError("malformed signer key: expected PRIVATE+KEY+<name>+<key ID>+<key>")
        _, _, name, hex_id, key64 = parts
        kid = _parse_hex_id(hex_id, f"PRIVATE+KEY+{name}+{hex_id}+...")
        try:
            typed = base64.b64decode(key64.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise ValueError(f"malformed signer key for {name!r}: key is not base64") from exc
        if len(typed) != 33 or typed[0] != SIG_TYPE_ED25519:
            raise ValueError(f"signer key for {name!r} is not an Ed25519 (0x01) 32-byte seed")
        signer = cls(name, typed[1:])
        if signer.key_id != kid:
            raise ValueError(f"signer key for {name!r}: key ID {hex_id} does not match the key")
        return signer

    @classmethod
    def generate(cls, name: str) -> Ed25519Signer:
        return cls(name, os.urandom(32))


# --------------------------------------------------------------------------------------------------
# Signing and verifying


def sign_note(note: Note | str, *signers: NoteSigner) -> Note:
    """Add one signature per signer over the note text (replacing older ones by the same key)."""
    if isinstance(note, str):
        note = Note(note)
    message = note.text.encode()
    return note.with_signatures(Signature(s.name, s.key_id, s.sign(message)) for s in signers)


def verify_note(
    note: Note | bytes | str,
    verifiers: Sequence[NoteVerifier],
    *,
    require_all: bool = True,
) -> tuple[Signature, ...]:
    """Check `note` against known keys and return the signatures that verified.

    Signatures from unknown keys (name and key ID not both matching) are ignored, as the spec demands.
    A known key's signature that fails raises InvalidSignatureError naming the key. With
    `require_all` every given verifier must have signed; otherwise one is enough (Go's Open).
    """
    if not isinstance(note, Note):
        note = Note.parse(note)
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        if (v.name, v.key_id) in known:
            raise ValueError(f"two verifiers share the key {v.name}+{v.key_id.hex()}")
        known[(v.name, v.key_id)] = v
    message = note.text.encode()
    verified: dict[tuple[str, bytes], Signature] = {}
    for sig in note.signatures:
        ident = (sig.name, sig.key_id)
        verifier = known.get(ident)
        if verifier is None or ident in verified:
            continue  # unknown key, or a repeat of a key already checked
        if not verifier.verify(message, sig.signature):
            raise InvalidSignatureError(
                f"signature by key {sig.key} does not verify: the note text or the signature was altered"
            )
        verified[ident] = sig
    missing = [f"{name}+{kid.hex()}" for (name, kid) in known if (name, kid) not in verified]
    if not verified:
        raise MissingSignatureError(
            "note has no valid signature by any required key: "
            + ", ".join(missing or ["(none given)"])
        )
    if require_all and missing:
        raise MissingSignatureError(
            "note is not signed by the required key(s): " + ", ".join(missing)
        )
    return tuple(verified.values())
