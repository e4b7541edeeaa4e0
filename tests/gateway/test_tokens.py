"""Bearer tokens (gateway/tokens.py): a replica checks a token's MAC once and remembers its claims,
but never its validity: the expiry is checked on every use, and a forged or foreign token is
refused every time it is shown."""

from __future__ import annotations

import pytest
from cbamhub.gateway.tokens import TokenError, TokenIssuer

SECRET = bytes(range(32))


def test_a_remembered_token_still_expires_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    issuer = TokenIssuer(SECRET, ttl_seconds=60)
    token, claims = issuer.issue("org_row_maker", "k1", now=1_000)
    macs: list[str] = []
    original = issuer._mac
    monkeypatch.setattr(issuer, "_mac", lambda body: macs.append(body) or original(body))
    for now in (1_000, 1_030, 1_059.9):
        assert issuer.check(token, now) == claims
    assert len(macs) == 1  # checked once, then remembered
    with pytest.raises(TokenError, match="expired"):
        issuer.check(token, 1_060)


def test_forged_and_foreign_tokens_are_refused_every_time() -> None:
    issuer = TokenIssuer(SECRET, ttl_seconds=60)
    token, _ = issuer.issue("org_row_maker", "k1", now=1_000)
    prefix, body, mac = token.split(".")
    forged = ".".join((prefix, body, ("A" if mac[0] != "A" else "B") + mac[1:]))
    foreign, _ = TokenIssuer(bytes(32), ttl_seconds=60).issue("org_row_maker", "k1", now=1_000)
    for bad in (forged, foreign, forged, "cbt1.e30.x", "nonsense"):
        with pytest.raises(TokenError):
            issuer.check(bad, 1_000)
    assert issuer.check(token, 1_000).organisation_id == "org_row_maker"


def test_the_memory_of_checked_tokens_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cbamhub.gateway.tokens.CHECKED_TOKENS", 3)
    issuer = TokenIssuer(SECRET, ttl_seconds=60)
    tokens = [issuer.issue(f"org_row_{i}", "k1", now=1_000)[0] for i in range(7)]
    for token in tokens:
        issuer.check(token, 1_000)
    assert len(issuer._checked) <= 3
    assert [issuer.check(t, 1_000).organisation_id for t in tokens] == [
        f"org_row_{i}" for i in range(7)
    ]
