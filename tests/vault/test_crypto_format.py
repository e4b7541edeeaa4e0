"""The at-rest format does not depend on how a blob is written (decision 0094): sealing writes the
blob with one libsodium call, and gives byte for byte `header ‖ nonce ‖ AEAD(plaintext, header ‖
associated data)` as PyNaCl's checked binding (the reference) computes it, for any plaintext and
associated data; a sealed blob opens with the reference binding; a pinned blob keeps its bytes."""

from __future__ import annotations

import nacl.bindings as reference
import pytest
from cbamhub.vault.crypto import (
    FORMAT_VERSION,
    NONCE_BYTES,
    OVERHEAD,
    ShardCipher,
    ShardKey,
    _seal,
    associated_data,
)
from hypothesis import given, settings
from hypothesis import strategies as st

KEY = ShardKey(bytes(range(32)))
HEADER = bytes([FORMAT_VERSION]) + KEY.key_id
NONCE = bytes(range(100, 124))
# computed with nacl.bindings before decision 0094
PINNED = bytes.fromhex(
    "018da600566465666768696a6b6c6d6e6f707172737475767778797a7b07518ad59a0cb3b3a909af42d51c4469"
    "8ffbebcd474c16e7ca6556b2"
)


def reference_seal(plaintext: bytes, associated: bytes, nonce: bytes) -> bytes:
    encrypt = reference.crypto_aead_xchacha20poly1305_ietf_encrypt
    return HEADER + nonce + encrypt(plaintext, HEADER + associated, nonce, KEY.secret)


def test_a_pinned_blob_keeps_its_bytes() -> None:
    row = associated_data("eu", "rec_eu_1", "payload")
    assert _seal(HEADER, KEY.secret, b'{"see":1.92}', row, NONCE) == PINNED
    assert reference_seal(b'{"see":1.92}', row, NONCE) == PINNED
    assert ShardCipher(KEY).decrypt(PINNED, row) == b'{"see":1.92}'


@settings(max_examples=200, deadline=None)
@given(
    plaintext=st.binary(max_size=2048),
    associated=st.binary(max_size=96),
    nonce=st.binary(min_size=NONCE_BYTES, max_size=NONCE_BYTES),
)
def test_sealing_is_the_reference_construction(
    plaintext: bytes, associated: bytes, nonce: bytes
) -> None:
    assert _seal(HEADER, KEY.secret, plaintext, associated, nonce) == reference_seal(
        plaintext, associated, nonce
    )


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=1024), associated=st.binary(max_size=64))
def test_a_sealed_blob_opens_with_the_reference_binding(
    plaintext: bytes, associated: bytes
) -> None:
    blob = ShardCipher(KEY).encrypt(plaintext, associated)
    assert len(blob) == len(plaintext) + OVERHEAD
    assert blob[: len(HEADER)] == HEADER
    nonce = blob[len(HEADER) : len(HEADER) + NONCE_BYTES]
    opened = reference.crypto_aead_xchacha20poly1305_ietf_decrypt(
        blob[len(HEADER) + NONCE_BYTES :], HEADER + associated, nonce, KEY.secret
    )
    assert opened == plaintext


def test_a_wrong_nonce_or_key_length_is_refused() -> None:
    with pytest.raises(ValueError):
        _seal(HEADER, KEY.secret, b"x", b"", NONCE[:-1])
    with pytest.raises(ValueError):
        _seal(HEADER, KEY.secret[:-1], b"x", b"", NONCE)


def test_without_pynacls_private_module_sealing_falls_back_to_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one-call path uses PyNaCl's private cffi module; a release that moves it must still
    seal the same format through the public binding."""
    from cbamhub.vault import crypto

    monkeypatch.setattr(crypto, "lib", None)
    row = associated_data("eu", "rec_eu_1", "payload")
    assert _seal(HEADER, KEY.secret, b'{"see":1.92}', row, NONCE) == PINNED
