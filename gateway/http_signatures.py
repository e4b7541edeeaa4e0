"""HTTP Message Signatures (RFC 9421) with Ed25519, and Content-Digest (RFC 9530).

Pure functions over a request's method, URL, headers and body, so the same code signs on the
organisation's side (`cbamhub.client`) and verifies in the gateway's middleware. Only what the hub
needs is implemented: request signatures, the derived components below, plain header fields, and the
`ed25519` algorithm. Anything else is refused by name rather than half-understood, because a verifier
that silently skips a component it does not know would accept a signature over less than it claims.
Checked against the RFC's own Ed25519 example (appendix B.2.6) in the tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

DERIVED = frozenset({"@method", "@authority", "@path", "@query", "@target-uri", "@scheme"})
"""The derived components this implementation can put in a signature base (RFC 9421 §2.2)."""

REQUIRED = ("@method", "@authority", "@path", "@query")
"""What a hub request must cover: a signature over less could be moved to another query."""

_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


class SignatureError(ValueError):
    """The request's signature headers are missing, malformed, stale or do not verify."""


@dataclass(frozen=True)
class Request:
    """The parts of an HTTP request a signature covers. Header names are matched case-insensitively."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        values = [v.strip() for k, v in self.headers.items() if k.lower() == wanted]
        return ", ".join(values) if values else None


@dataclass(frozen=True)
class SignatureInput:
    label: str
    components: tuple[str, ...]
    keyid: str
    created: int
    expires: int | None
    nonce: str | None
    serialized_params: str
    signature: bytes


def content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """The Content-Digest field value (RFC 9530) of a body."""
    digest = _DIGESTS[algorithm](body).digest()
    return f"{algorithm}=:{base64.b64encode(digest).decode()}:"


def check_content_digest(request: Request) -> None:
    """A body must come with a Content-Digest that matches it; every digest given must match."""
    field = request.header("content-digest")
    if field is None:
        if request.body:
            raise SignatureError("a request with a body must carry a Content-Digest header")
        return
    parsed = Dictionary()
    try:
        parsed.parse(field.encode())
    except ValueError as error:
        raise SignatureError(f"Content-Digest is not a structured dictionary: {error}") from None
    known = [name for name in parsed if name in _DIGESTS]
    if not known:
        raise SignatureError(f"Content-Digest names no supported algorithm ({sorted(_DIGESTS)})")
    for name in known:
        value = parsed[name].value
        if not isinstance(value, bytes) or not hmac.compare_digest(
            value, _DIGESTS[name](request.body).digest()
        ):
            raise SignatureError(f"Content-Digest {name} does not match the body")


def _component_value(request: Request, name: str) -> str:
    parts = urlsplit(request.url)
    if name == "@method":
        return request.method.upper()
    if name == "@authority":
        host = request.header("host") or parts.netloc
        return host.lower()
    if name == "@path":
        return parts.path or "/"
    if name == "@query":
        return "?" + parts.query
    if name == "@target-uri":
        return request.url
    if name == "@scheme":
        return parts.scheme.lower()
    if name.startswith("@"):
        raise SignatureError(f"derived component {name!r} is not supported")
    value = request.header(name)
    if value is None:
        raise SignatureError(f"the signature covers header {name!r}, which the request lacks")
    return value


def _params(components: Sequence[str], keyid: str, created: int, expires: int | None) -> str:
    inner = InnerList([Item(c) for c in components])
    inner.params["created"] = created
    if expires is not None:
        inner.params["expires"] = expires
    inner.params["keyid"] = keyid
    inner.params["alg"] = "ed25519"
    return str(inner)


def signature_base(request: Request, components: Iterable[str], serialized_params: str) -> bytes:
    """The signature base of RFC 9421 §2.5: one line per covered component, then the parameters."""
    lines = [f'"{name}": {_component_value(request, name)}' for name in components]
    lines.append(f'"@signature-params": {serialized_params}')
    base = "\n".join(lines)
    if any(ch in base for ch in "\r\x00"):
        raise SignatureError("a covered component contains a forbidden control character")
    return base.encode()


def sign(
    request: Request,
    seed: bytes,
    keyid: str,
    *,
    components: Sequence[str] = REQUIRED,
    created: int | None = None,
    expires_in: int | None = None,
    label: str = "sig1",
) -> dict[str, str]:
    """The headers to add to `request`: Content-Digest (when it has a body), Signature-Input and
    Signature, covering `components` plus content-digest."""
    headers: dict[str, str] = {}
    covered = list(components)
    if request.body:
        headers["Content-Digest"] = content_digest(request.body)
        covered.append("content-digest")
    created = int(time.time()) if created is None else created
    expires = created + expires_in if expires_in is not None else None
    params = _params(covered, keyid, created, expires)
    merged = Request(request.method, request.url, {**request.headers, **headers}, request.body)
    signature = SigningKey(seed).sign(signature_base(merged, covered, params)).signature
    headers["Signature-Input"] = f"{label}={params}"
    headers["Signature"] = f"{label}=:{base64.b64encode(signature).decode()}:"
    return headers


def _dictionary(request: Request, name: str) -> Dictionary:
    field = request.header(name)
    if field is None:
        raise SignatureError(f"the request has no {name} header")
    parsed = Dictionary()
    try:
        parsed.parse(field.encode())
    except ValueError as error:
        raise SignatureError(f"{name} is not a structured dictionary: {error}") from None
    return parsed


def parse(request: Request) -> SignatureInput:
    """The one signature of the request (the hub accepts exactly one label)."""
    inputs, signatures = _dictionary(request, "signature-input"), _dictionary(request, "signature")
    labels = list(inputs)
    if len(labels) != 1:
        raise SignatureError(f"expected exactly one signature, found {len(labels)}")
    label = labels[0]
    member, signed = inputs[label], signatures.get(label)
    if not isinstance(member, InnerList):
        raise SignatureError(f"Signature-Input {label!r} is not an inner list")
    if signed is None or not isinstance(signed.value, bytes):
        raise SignatureError(f"no Signature (byte sequence) for label {label!r}")
    components: list[str] = []
    for item in member:
        if not isinstance(item.value, str) or item.params:
            raise SignatureError("covered components must be plain strings without parameters")
        if item.value in components:
            raise SignatureError(f"component {item.value!r} is covered twice")
        components.append(item.value)
    params = dict(member.params)
    unknown = set(params) - {"created", "expires", "keyid", "alg", "nonce"}
    if unknown:
        raise SignatureError(f"unsupported signature parameters: {sorted(unknown)}")
    if params.get("alg", "ed25519") != "ed25519":
        raise SignatureError(f"algorithm {params['alg']!r} is not accepted; use ed25519")
    keyid, created = params.get("keyid"), params.get("created")
    if not isinstance(keyid, str) or not keyid:
        raise SignatureError("the signature has no keyid")
    if not isinstance(created, int) or isinstance(created, bool):
        raise SignatureError("the signature has no integer `created` time")
    expires = params.get("expires")
    if expires is not None and (not isinstance(expires, int) or isinstance(expires, bool)):
        raise SignatureError("`expires` must be an integer")
    nonce = params.get("nonce")
    return SignatureInput(
        label,
        tuple(components),
        keyid,
        created,
        expires,
        nonce if isinstance(nonce, str) else None,
        str(member),
        signed.value,
    )


def check_freshness(sig: SignatureInput, now: float, max_age: int, skew: int) -> None:
    """Refuse signatures from the future, past their `expires`, or older than `max_age` seconds."""
    if sig.created > now + skew:
        raise SignatureError("the signature was created in the future (check the clock)")
    if now - sig.created > max_age:
        raise SignatureError(f"the signature is older than {max_age} s; sign the request anew")
    if sig.expires is not None and now > sig.expires + skew:
        raise SignatureError("the signature has expired")


def verify(
    request: Request,
    sig: SignatureInput,
    public_key: bytes,
    required: Sequence[str] = REQUIRED,
    *,
    body_covered: bool = True,
) -> None:
    """Check coverage, body digest and the Ed25519 signature; SignatureError on any failure.

    `body_covered=False` exists only to check foreign examples that do not sign their body."""
    missing = [c for c in required if c not in sig.components]
    if body_covered and request.body and "content-digest" not in sig.components:
        missing.append("content-digest")
    if missing:
        raise SignatureError(f"the signature must cover {missing}")
    check_content_digest(request)
    base = signature_base(request, sig.components, sig.serialized_params)
    try:
        VerifyKey(public_key).verify(base, sig.signature)
    except (BadSignatureError, ValueError):
        raise SignatureError("the signature does not verify under the named key") from None
