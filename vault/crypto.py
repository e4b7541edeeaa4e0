"""Encryption at rest of a shard's payloads, with a key per region, so a stolen database file or backup
leaks no emissions figures. The ledger still commits to the plaintext canonical bytes; only storage is
encrypted.

Cipher: libsodium's XChaCha20-Poly1305 IETF AEAD (`nacl.bindings`), not SecretBox (XSalsa20-Poly1305):
both take a 24-byte random nonce (safe to draw at random for any number of rows under one key), but only
the AEAD authenticates associated data natively. The associated data binds a ciphertext to its row
(`associated_data(region, record_id)`), so copying one row's payload over another's, or into another
shard, fails to decrypt instead of serving the wrong figures.

Blob layout: `version (1) ‖ key id (4) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`, 45 bytes of overhead. The
key id is a keyed hash of the key itself, so old rows name the key that opens them after a rotation
(`ShardKeyring`), a blob under a key we do not hold is told apart from a tampered one (`WrongKey` vs
`PayloadTampered`), and no id has to be stored or kept in step with the key file. The header is part of
the authenticated data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nacl.bindings as sodium
from nacl.exceptions import CryptoError

try:  # PyNaCl's cffi module: private, so a release that moves it falls back to the public binding
    from nacl._sodium import ffi, lib  # type: ignore[import-not-found]  # unchecked
except ImportError:  # pragma: no cover - PyNaCl 1.5-1.6 have it
    ffi = lib = None

KEY_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES  # 32
NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16
FORMAT_VERSION = 1
KEY_ID_BYTES = 4
HEADER_BYTES = 1 + KEY_ID_BYTES
OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES


class ShardCryptoError(Exception):
    """A payload could not be decrypted; never returned as data."""


class WrongKey(ShardCryptoError):
    """The blob was sealed under a key this cipher or keyring does not hold (another region's key, or
    a retired key that was dropped from the keyring)."""


class PayloadTampered(ShardCryptoError):
    """The blob names a key we hold but does not authenticate: it was altered, truncated, or belongs
    to another row (associated data differs)."""


class InvalidKeyFile(ValueError):
    """A shard key file that is not 32 bytes of base64."""


def _key_id(secret: bytes) -> bytes:
    # A keyed BLAKE2b of the key under a fixed personalisation: reveals nothing about it.
    return hashlib.blake2b(secret, digest_size=KEY_ID_BYTES, person=b"cbamhub-shardkey").digest()


@dataclass(frozen=True)
class ShardKey:
    """A region's 32-byte payload key; its id is derived from it."""

    secret: bytes = field(repr=False)
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"a shard key has {KEY_BYTES} bytes, not {len(self.secret)}")
        object.__setattr__(self, "key_id", _key_id(self.secret))

    @classmethod
    def generate(cls) -> ShardKey:
        return cls(os.urandom(KEY_BYTES))

    def to_text(self) -> str:
        return base64.b64encode(self.secret).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> ShardKey:
        try:
            secret = base64.b64decode(text.strip(), validate=True)
        except binascii.Error as error:
            raise InvalidKeyFile(f"not base64: {error}") from None
        if len(secret) != KEY_BYTES:
            raise InvalidKeyFile(f"a shard key has {KEY_BYTES} bytes, not {len(secret)}")
        return cls(secret)


def associated_data(*parts: str | bytes) -> bytes:
    """Unambiguous associated data from a row's identity, e.g. `associated_data(region, record_id)`.

    Each part is length-prefixed, so ("eu", "rec_1") and ("eur", "ec_1") never collide.
    """
    out = bytearray()
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)


def seal_for_row(keyring: ShardKeyring, region: str, plaintext: bytes, *row: str) -> bytes:
    """`plaintext` sealed for one row of a region's shard (`Shard.seal`, and the ingest workers
    that seal without a Shard): the region and the row's ids are the associated data, so a blob
    copied to another row or region does not open."""
    return keyring.encrypt(plaintext, associated_data(region, *row))


def replay_digest(index_key: bytes, payload: bytes) -> bytes:
    """The replay index's digest of a signed payload: keyed per region, so equal payloads are
    found without a guessable plain hash (`Shard.replay_digest`, and the ingest workers)."""
    return hmac.new(index_key, payload, hashlib.sha256).digest()


def key_id_of(blob: bytes) -> bytes:
    """The id of the key a blob was sealed under (to find rows still under a retired key)."""
    if len(blob) < OVERHEAD or blob[0] != FORMAT_VERSION:
        raise PayloadTampered("not a shard payload blob (too short or unknown format version)")
    return blob[1:HEADER_BYTES]


def _seal(header: bytes, secret: bytes, plaintext: bytes, associated: bytes, nonce: bytes) -> bytes:
    """`header ‖ nonce ‖ XChaCha20-Poly1305(plaintext, aad = header ‖ associated) ‖ tag`.

    The same bytes as `header + nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
    plaintext, header + associated, nonce, secret)` (the tests hold it to that), written by one
    libsodium call straight into the blob: the binding's argument checks format their error
    messages on every call and its result is copied twice, more than half of the sealing time of
    a record (decision 0094). Lengths are checked here, once."""
    if len(nonce) != NONCE_BYTES or len(secret) != KEY_BYTES:
        raise ValueError("a nonce is 24 bytes and a key 32")
    if lib is None:
        sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, header + associated, nonce, secret
        )
        return header + nonce + sealed
    start = len(header) + NONCE_BYTES
    blob = bytearray(start + len(plaintext) + TAG_BYTES)
    blob[:start] = header + nonce
    aad = header + associated
    if lib.crypto_aead_xchacha20poly1305_ietf_encrypt(
        ffi.from_buffer(blob) + start,
        ffi.NULL,  # the length written is known: plaintext + tag
        plaintext,
        len(plaintext),
        aad,
        len(aad),
        ffi.NULL,
        nonce,
        secret,
    ):
        raise CryptoError("encryption failed")
    return bytes(blob)


class ShardCipher:
    """Seals and opens payloads under one key."""

    def __init__(self, key: ShardKey) -> None:
        self.key = key
        self._header = bytes([FORMAT_VERSION]) + key.key_id

    @property
    def key_id(self) -> bytes:
        return self.key.key_id

    def encrypt(self, plaintext: bytes, associated: bytes) -> bytes:
        """`header ‖ nonce ‖ ciphertext ‖ tag`, with a fresh random nonce."""
        return _seal(self._header, self.key.secret, plaintext, associated, os.urandom(NONCE_BYTES))

    def decrypt(self, blob: bytes, associated: bytes) -> bytes:
        if key_id_of(blob) != self.key.key_id:
            raise WrongKey(f"sealed under key {key_id_of(blob).hex()}, not {self.key_id.hex()}")
        nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                blob[HEADER_BYTES + NONCE_BYTES :],
                self._header + associated,
                nonce,
                self.key.secret,
            )
        except CryptoError:
            raise PayloadTampered(
                "payload does not authenticate: altered, or another row's payload"
            ) from None


class ShardKeyring:
    """A region's current key, which seals, and its retired keys, which still open old rows.

    Rotation: `keyring.rotated(ShardKey.generate())`; rows keep their blobs, and `key_id_of` finds the
    ones to re-seal before a retired key may be dropped.
    """

    def __init__(self, current: ShardKey, older: Iterable[ShardKey] = ()) -> None:
        self.current = ShardCipher(current)
        self._ciphers = {current.key_id: self.current}
        for key in older:
            self._ciphers.setdefault(key.key_id, ShardCipher(key))

    @classmethod
    def from_files(cls, current: Path, older: Iterable[Path] = ()) -> ShardKeyring:
        return cls(load_shard_key(current), [load_shard_key(path) for path in older])

    @property
    def key_ids(self) -> list[bytes]:
        """Every key id this keyring opens, the current one first."""
        return list(self._ciphers)

    def rotated(self, new: ShardKey) -> ShardKeyring:
        """A keyring sealing under `new` and still opening everything this one opens."""
        return ShardKeyring(new, [cipher.key for cipher in self._ciphers.values()])

    def encrypt(self, plaintext: bytes, associated: bytes) -> bytes:
        return self.current.encrypt(plaintext, associated)

    def decrypt(self, blob: bytes, associated: bytes) -> bytes:
        cipher = self._ciphers.get(key_id_of(blob))
        if cipher is None:
            raise WrongKey(f"sealed under key {key_id_of(blob).hex()}, which this keyring lacks")
        return cipher.decrypt(blob, associated)


def generate_shard_key(path: Path) -> ShardKey:
    """Create a key file (base64, mode 0600); refuses to overwrite one, which would orphan rows."""
    key = ShardKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FileExistsError(
            f"{path} exists; refusing to overwrite a shard key (rows sealed under it would be lost)"
        ) from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key.to_text() + "\n")
    return key


def load_shard_key(path: Path) -> ShardKey:
    try:
        return ShardKey.from_text(path.read_text())
    except InvalidKeyFile as error:
        raise InvalidKeyFile(f"{path}: {error}") from None
