"""RFC 9421 request signatures as the hub signs and checks them, first against the RFC's own example."""

from __future__ import annotations

import base64

import pytest
from cbamhub.gateway import http_signatures as hs
from nacl.signing import SigningKey

# RFC 9421 appendix B.1.4 (test-key-ed25519) and B.2.6 (signing a request using ed25519).
RFC_SEED = base64.b64decode("MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF")[
    -32:
]
RFC_PUBLIC = base64.urlsafe_b64decode("JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs=")
RFC_REQUEST = hs.Request(
    "POST",
    "https://example.com/foo?param=Value&Pet=dog",
    {
        "Host": "example.com",
        "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
        "Content-Type": "application/json",
        "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        "Content-Length": "18",
        "Signature-Input": 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
        "Signature": "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
    },
    b'{"hello": "world"}',
)
RFC_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)


def test_the_rfc_key_pair_is_the_one_printed() -> None:
    assert bytes(SigningKey(RFC_SEED).verify_key) == RFC_PUBLIC


def test_signature_base_of_the_rfc_example() -> None:
    sig = hs.parse(RFC_REQUEST)
    assert sig.label == "sig-b26" and sig.keyid == "test-key-ed25519" and sig.created == 1618884473
    assert (
        hs.signature_base(RFC_REQUEST, sig.components, sig.serialized_params) == RFC_BASE.encode()
    )


def test_the_rfc_signature_verifies_and_signing_reproduces_it() -> None:
    sig = hs.parse(RFC_REQUEST)
    hs.verify(
        RFC_REQUEST,
        sig,
        RFC_PUBLIC,
        required=("@method", "@path", "@authority"),
        body_covered=False,
    )
    assert SigningKey(RFC_SEED).sign(RFC_BASE.encode()).signature == sig.signature


def test_the_rfc_example_is_refused_under_the_hubs_coverage_rules() -> None:
    """It covers neither @query nor content-digest, so its body and query could be swapped."""
    with pytest.raises(hs.SignatureError, match=r"must cover \['@query', 'content-digest'\]"):
        hs.verify(RFC_REQUEST, hs.parse(RFC_REQUEST), RFC_PUBLIC)


def test_content_digest_matches_rfc_9530_example() -> None:
    # RFC 9530 §2 example: {"hello": "world"}\n with sha-256.
    assert hs.content_digest(b'{"hello": "world"}\n') == (
        "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
    )


def _signed(body: bytes = b'{"query":"{ x }"}', **kwargs: object) -> hs.Request:
    seed = bytes(range(32))
    base = hs.Request("POST", "http://127.0.0.1:8000/graphql?x=1", {"Host": "127.0.0.1:8000"}, body)
    headers = hs.sign(base, seed, "org_eu_1/ed25519:k", **kwargs)  # type: ignore[arg-type]
    return hs.Request(base.method, base.url, {**base.headers, **headers}, body)


PUBLIC = bytes(SigningKey(bytes(range(32))).verify_key)


def test_a_hub_signature_round_trips() -> None:
    request = _signed()
    sig = hs.parse(request)
    assert sig.keyid == "org_eu_1/ed25519:k"
    assert sig.components == ("@method", "@authority", "@path", "@query", "content-digest")
    hs.verify(request, sig, PUBLIC)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: hs.Request(r.method, r.url, r.headers, b'{"query":"{ y }"}'), "does not match"),
        (lambda r: hs.Request("GET", r.url, r.headers, r.body), "does not verify"),
        (
            lambda r: hs.Request(r.method, r.url.replace("x=1", "x=2"), r.headers, r.body),
            "does not verify",
        ),
        (
            lambda r: hs.Request(r.method, r.url.replace("/graphql", "/other"), r.headers, r.body),
            "does not verify",
        ),
        (
            lambda r: hs.Request(r.method, r.url, {**r.headers, "Host": "evil:1"}, r.body),
            "does not verify",
        ),
    ],
)
def test_any_change_to_a_covered_part_is_detected(change: object, message: str) -> None:
    request = change(_signed())  # type: ignore[operator]
    with pytest.raises(hs.SignatureError, match=message):
        hs.verify(request, hs.parse(request), PUBLIC)


def test_a_signature_under_another_key_fails() -> None:
    request = _signed()
    other = bytes(SigningKey(bytes(32)).verify_key)
    with pytest.raises(hs.SignatureError, match="does not verify"):
        hs.verify(request, hs.parse(request), other)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "no signature-input header"),
        ({"Signature-Input": "sig1=(", "Signature": "sig1=:AA==:"}, "not a structured dictionary"),
        (
            {"Signature-Input": 'sig1=("@method");keyid="k"', "Signature": "sig1=:AA==:"},
            "integer `created`",
        ),
        ({"Signature-Input": 'sig1=("@method");created=1', "Signature": "sig1=:AA==:"}, "no keyid"),
        (
            {
                "Signature-Input": 'sig1=("@method");created=1;keyid="k";alg="rsa-pss-sha512"',
                "Signature": "sig1=:AA==:",
            },
            "not accepted",
        ),
        (
            {
                "Signature-Input": 'sig1=("@method");created=1;keyid="k";tag="x"',
                "Signature": "sig1=:AA==:",
            },
            "unsupported signature parameters",
        ),
        (
            {
                "Signature-Input": 'sig1=("@method" "@method");created=1;keyid="k"',
                "Signature": "sig1=:AA==:",
            },
            "covered twice",
        ),
        (
            {
                "Signature-Input": 'sig1=("@method";req);created=1;keyid="k"',
                "Signature": "sig1=:AA==:",
            },
            "without parameters",
        ),
        (
            {"Signature-Input": 'sig1=("@method");created=1;keyid="k"', "Signature": "sig2=:AA==:"},
            "no Signature",
        ),
        (
            {
                "Signature-Input": 'a=("@method");created=1;keyid="k", b=("@path");created=1;keyid="k"',
                "Signature": "a=:AA==:",
            },
            "exactly one signature",
        ),
    ],
)
def test_malformed_signature_headers_are_refused_by_name(
    headers: dict[str, str], message: str
) -> None:
    with pytest.raises(hs.SignatureError, match=message):
        hs.parse(hs.Request("POST", "http://h/graphql", headers))


def test_unknown_derived_components_are_refused_not_skipped() -> None:
    request = hs.Request("GET", "http://h/", {})
    with pytest.raises(hs.SignatureError, match="not supported"):
        hs.signature_base(request, ["@request-response"], "()")


def test_freshness_window() -> None:
    sig = hs.parse(_signed(created=1_000_000, expires_in=60))
    hs.check_freshness(sig, 1_000_030, max_age=300, skew=5)
    with pytest.raises(hs.SignatureError, match="future"):
        hs.check_freshness(sig, 999_990, max_age=300, skew=5)
    with pytest.raises(hs.SignatureError, match="expired"):
        hs.check_freshness(sig, 1_000_070, max_age=300, skew=5)
    with pytest.raises(hs.SignatureError, match="older than 20 s"):
        hs.check_freshness(sig, 1_000_030, max_age=20, skew=5)


def test_a_body_without_content_digest_is_refused() -> None:
    request = hs.Request("POST", "http://h/graphql", {}, b"{}")
    with pytest.raises(hs.SignatureError, match="must carry a Content-Digest"):
        hs.check_content_digest(request)
