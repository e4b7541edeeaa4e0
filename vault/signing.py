"""Organisation-side signing of records, and the hub-side check of those signatures.

The hub never holds an organisation's private key: manufacturers sign with this module (through the
`cbamhub` CLI or as a library) on their own machines and submit only the signed payload. The message
signed is a domain-separation prefix followed by the RFC 8785 canonical bytes of the record, so a
signature over a record can never be replayed as a signature over anything else.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from cbamhub.ledger.statements import canonical
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

RECORD_DOMAIN = b"cbamhub/record/v1\n"


def key_id(public_key: bytes) -> str:
    """A short, stable name for an Ed25519 public key: ed25519:<base64url of its SHA-256, 16 bytes>."""
    digest = hashlib.sha256(public_key).digest()[:16]
    return "ed25519:" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class OrganisationKey:
    """A private signing key held by an organisation (never by the hub)."""

    seed: bytes

    @classmethod
    def generate(cls) -> OrganisationKey:
        return cls(bytes(SigningKey.generate()))

    @property
    def public_key(self) -> bytes:
        return bytes(SigningKey(self.seed).verify_key)

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign_document(self, document: Any) -> SignedDocument:
        payload = canonical(document)
        signature = SigningKey(self.seed).sign(RECORD_DOMAIN + payload).signature
        return SignedDocument(payload=payload, signature=signature, key_id=self.key_id)

    def to_text(self) -> str:
        return base64.b64encode(self.seed).decode()

    @classmethod
    def from_text(cls, text: str) -> OrganisationKey:
        seed = base64.b64decode(text.strip(), validate=True)
        if len(seed) != 32:
            raise ValueError("an Ed25519 key seed is 32 bytes")
        return cls(seed)


@dataclass(frozen=True)
class SignedDocument:
    payload: bytes
    """RFC 8785 canonical JSON bytes of the document."""
    signature: bytes
    key_id: str


def signature_valid(public_key: bytes, payload: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(public_key).verify(RECORD_DOMAIN + payload, signature)
    except (BadSignatureError, ValueError):
        return False
    return True
