"""Per-call signed metadata: how a machine client without a TLS client certificate says who it is.

The client signs, with its organisation's registered Ed25519 key, the message
``cbamhub/rpc-call/v1\\n<full method>\\n<timestamp>\\n<hex SHA-256 of the request>``. The request digest
is over the deterministic protobuf encoding of a unary request, so a signature cannot be moved to
another call or another body; a streaming call has no single body and signs the digest of the empty
string (its messages are protected by the channel, TLS in production). The domain prefix differs
from the record-signing one (vault/signing.py), so neither signature can stand in for the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cbamhub.vault.signing import OrganisationKey
from google.protobuf.message import Message
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

CALL_DOMAIN = b"cbamhub/rpc-call/v1\n"
ORGANISATION = "x-cbamhub-organisation"
KEY_ID = "x-cbamhub-key-id"
TIMESTAMP = "x-cbamhub-timestamp"
SIGNATURE = "x-cbamhub-signature-bin"  # -bin: gRPC carries the raw bytes (base64 on the wire)
STREAM_DIGEST = hashlib.sha256(b"").hexdigest()


def request_digest(request: Message | None) -> str:
    """Hex SHA-256 of a unary request's deterministic encoding; of b"" for a stream."""
    if request is None:
        return STREAM_DIGEST
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()


def call_message(method: str, timestamp: str, digest: str) -> bytes:
    return CALL_DOMAIN + f"{method}\n{timestamp}\n{digest}".encode()


def timestamp_now(now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str:
    return now().astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class CallSigner:
    """Signs calls for one organisation with one of its keys (held by the organisation only)."""

    organisation_id: str
    key: OrganisationKey

    def metadata(
        self, method: str, request: Message | None, timestamp: str | None = None
    ) -> tuple[tuple[str, str | bytes], ...]:
        when = timestamp or timestamp_now()
        message = call_message(method, when, request_digest(request))
        signature = SigningKey(self.key.seed).sign(message).signature
        return (
            (ORGANISATION, self.organisation_id),
            (KEY_ID, self.key.key_id),
            (TIMESTAMP, when),
            (SIGNATURE, signature),
        )


def call_signature_valid(
    public_key: bytes, method: str, timestamp: str, digest: str, signature: bytes
) -> bool:
    try:
        VerifyKey(public_key).verify(call_message(method, timestamp, digest), signature)
    except (BadSignatureError, ValueError):
        return False
    return True


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 with a zone; ValueError otherwise."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("the call timestamp needs a time zone")
    return value
