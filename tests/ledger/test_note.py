"""Signed notes: byte-for-byte compatibility with Go's golang.org/x/mod/sumdb/note, and strictness."""

from __future__ import annotations

import base64

import pytest
from cbamhub.ledger.note import (
    Ed25519Signer,
    Ed25519Verifier,
    InvalidSignatureError,
    MalformedNoteError,
    MissingSignatureError,
    Note,
    Signature,
    format_vkey,
    is_valid_name,
    key_id,
    parse_signature_lines,
    parse_vkey,
    sign_note,
    verify_note,
)
from cbamhub.ledger.verify import VerificationError

# The example key pair and signed note of golang.org/x/mod/sumdb/note (its package doc and note_test.go).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE_LINE = "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
GO_NOTE = GO_TEXT + "\n" + GO_SIGNATURE_LINE


def test_go_vkey_key_id_is_sha256_of_name_newline_type_and_key() -> None:
    name, kid, typed_key = parse_vkey(GO_VKEY)
    assert name == "PeterNeumann"
    assert kid.hex() == "c74f20a3"
    assert typed_key[0] == 0x01 and len(typed_key) == 33
    assert key_id("PeterNeumann", typed_key) == kid
    verifier = Ed25519Verifier.from_vkey(GO_VKEY)
    assert verifier.key_id.hex() == "c74f20a3"
    assert verifier.vkey() == GO_VKEY
    assert format_vkey(name, typed_key) == GO_VKEY


def test_go_skey_round_trips_and_signs_exactly_like_go() -> None:
    signer = Ed25519Signer.from_skey(GO_SKEY)
    assert signer.skey() == GO_SKEY
    assert signer.vkey() == GO_VKEY
    assert sign_note(GO_TEXT, signer).to_text() == GO_NOTE  # Ed25519 is deterministic


def test_go_note_verifies() -> None:
    (sig,) = verify_note(GO_NOTE, [Ed25519Verifier.from_vkey(GO_VKEY)])
    assert sig.key == "PeterNeumann+c74f20a3"
    assert Note.parse(GO_NOTE).text == GO_TEXT


def test_tampered_text_fails_and_says_which_key_and_why() -> None:
    tampered = GO_NOTE.replace("cryptography", "cryptographY")
    with pytest.raises(InvalidSignatureError) as err:
        verify_note(tampered, [Ed25519Verifier.from_vkey(GO_VKEY)])
    assert "PeterNeumann+c74f20a3" in str(err.value)
    assert "does not verify" in str(err.value) and "altered" in str(err.value)
    assert isinstance(err.value, VerificationError)


def test_tampered_signature_fails() -> None:
    raw = bytearray(base64.b64decode(GO_SIGNATURE_LINE.split()[-1]))
    raw[10] ^= 1
    tampered = GO_TEXT + "\n\u2014 PeterNeumann " + base64.b64encode(bytes(raw)).decode() + "\n"
    with pytest.raises(InvalidSignatureError, match="PeterNeumann"):
        verify_note(tampered, [Ed25519Verifier.from_vkey(GO_VKEY)])


def test_unknown_keys_are_ignored() -> None:
    stranger = Ed25519Signer("EnochRoot", bytes(range(32)))
    same_name_other_key = Ed25519Signer("PeterNeumann", bytes(32))
    note = sign_note(Note.parse(GO_NOTE), stranger, same_name_other_key)
    assert len(note.signatures) == 3
    (sig,) = verify_note(note, [Ed25519Verifier.from_vkey(GO_VKEY)])
    assert sig.key == "PeterNeumann+c74f20a3"
    # A garbage signature from an unknown key is not even looked at.
    junk = Signature("junk.example/key", b"\x00\x01\x02\x03", b"not a signature")
    verify_note(note.with_signatures([junk]), [Ed25519Verifier.from_vkey(GO_VKEY)])


def test_missing_required_key_names_the_key() -> None:
    required = Ed25519Signer("log.example/required", bytes([7]) * 32).verifier()
    with pytest.raises(MissingSignatureError) as err:
        verify_note(GO_NOTE, [required])
    assert f"log.example/required+{required.key_id.hex()}" in str(err.value)
    # require_all: one verified key is not enough when two are required.
    with pytest.raises(MissingSignatureError, match="log.example/required"):
        verify_note(GO_NOTE, [Ed25519Verifier.from_vkey(GO_VKEY), required])
    # Go's Open semantics: any one known key suffices.
    assert (
        len(verify_note(GO_NOTE, [Ed25519Verifier.from_vkey(GO_VKEY), required], require_all=False))
        == 1
    )


def test_resigning_replaces_the_old_signature_by_the_same_key() -> None:
    signer = Ed25519Signer.from_skey(GO_SKEY)
    note = sign_note(sign_note(GO_TEXT, signer), signer)
    assert len(note.signatures) == 1


def test_generated_keys_round_trip() -> None:
    signer = Ed25519Signer.generate("witness.example/w1")
    assert Ed25519Signer.from_skey(signer.skey()).vkey() == signer.vkey()
    verifier = Ed25519Verifier.from_vkey(signer.vkey())
    assert verify_note(sign_note("hello\n", signer), [verifier])


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # short key ID
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad base64
        "PeterNeumann+c74f20a3",  # no key
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # Go's own bad case
    ],
)
def test_mangled_vkeys_are_rejected(vkey: str) -> None:
    with pytest.raises(ValueError):
        Ed25519Verifier.from_vkey(vkey)


def test_names() -> None:
    assert is_valid_name("example.com/log")
    for bad in ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "a\u2028b", "a\x85b"]:
        assert not is_valid_name(bad)


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (GO_TEXT + GO_SIGNATURE_LINE, "blank line"),  # no separator
        (GO_TEXT + "\n", "no signature lines"),
        (GO_NOTE.removesuffix("\n"), "does not end in a newline"),
        (GO_TEXT + "\n- PeterNeumann x08go/ZJku\n", "em dash"),
        (GO_TEXT + "\n\u2014 PeterNeumann\n", "no signature"),
        (GO_TEXT + "\n\u2014 PeterNeumann !!!!\n", "base64"),
        (GO_TEXT + "\n\u2014 PeterNeumann AAAA\n", "shorter"),
        ("bell\x07\n" + "\n" + GO_SIGNATURE_LINE, "control character"),
        (GO_TEXT + "\n" + GO_SIGNATURE_LINE * 101, "more than the 100"),
    ],
)
def test_malformed_notes_are_rejected_clearly(data: str, complaint: str) -> None:
    with pytest.raises(MalformedNoteError, match=complaint):
        Note.parse(data)


def test_invalid_utf8_is_rejected() -> None:
    with pytest.raises(MalformedNoteError, match="UTF-8"):
        Note.parse(b"\xff\xfe\n\n" + GO_SIGNATURE_LINE.encode())


def test_text_may_contain_blank_lines_the_last_one_separates() -> None:
    signer = Ed25519Signer.from_skey(GO_SKEY)
    note = sign_note("para one\n\npara two\n", signer)
    parsed = Note.parse(note.to_bytes())
    assert parsed.text == "para one\n\npara two\n"
    verify_note(parsed, [signer.verifier()])


def test_only_newline_separates_lines() -> None:
    # U+2028 is a line break to str.splitlines() but not to the note format: the name is invalid.
    with pytest.raises(MalformedNoteError, match="invalid key name"):
        Note.parse(GO_TEXT + "\n\u2014 Peter\u2028Neumann " + GO_SIGNATURE_LINE.split()[-1] + "\n")
    assert parse_signature_lines("") == ()


def test_parse_signature_lines() -> None:
    (sig,) = parse_signature_lines(GO_SIGNATURE_LINE)
    assert sig.line() == GO_SIGNATURE_LINE
    with pytest.raises(MalformedNoteError):
        parse_signature_lines(GO_SIGNATURE_LINE.rstrip("\n"))
