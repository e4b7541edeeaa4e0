"""Short-lived bearer tokens, obtained with a signed request and checked without a database read.

A token is `cbt1.<claims>.<mac>`: base64url JSON claims (organisation, key id, issue and expiry
times) and an HMAC-SHA256 over them with the gateway's token secret. Replicas share the secret
(settings), so a token issued by one is accepted by all. The token names the key that obtained it, and
the authenticator re-checks that key on use, so revoking the key ends its tokens too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

PREFIX = "cbt1"


class TokenError(ValueError):
    """The token is malformed, forged or expired."""


@dataclass(frozen=True)
class TokenClaims:
    organisation_id: str
    key_id: str
    issued_at: int
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


CHECKED_TOKENS = 10_000
"""Tokens whose MAC and claims a replica remembers having checked (a client reuses its token for
every request until it expires): the HMAC and JSON were ~2 % of a listed page's CPU."""


class TokenIssuer:
    def __init__(self, secret: bytes | None, ttl_seconds: int) -> None:
        if secret is not None and len(secret) < 32:
            raise ValueError("the token secret must be at least 32 bytes")
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self.ttl_seconds = ttl_seconds
        self._checked: dict[str, TokenClaims] = {}
        """token -> its claims, for tokens whose MAC was valid (the expiry is checked every time)"""

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, f"{PREFIX}.{body}".encode(), hashlib.sha256).digest())

    def issue(self, organisation_id: str, key_id: str, now: int) -> tuple[str, TokenClaims]:
        claims = TokenClaims(organisation_id, key_id, now, now + self.ttl_seconds)
        body = _b64(
            json.dumps(
                {"org": organisation_id, "kid": key_id, "iat": now, "exp": claims.expires_at},
                separators=(",", ":"),
            ).encode()
        )
        return f"{PREFIX}.{body}.{self._mac(body)}", claims

    def check(self, token: str, now: float) -> TokenClaims:
        claims = self._checked.get(token)
        if claims is None:
            claims = self._claims(token)
            if len(self._checked) >= CHECKED_TOKENS:
                self._checked.clear()
            self._checked[token] = claims
        if now >= claims.expires_at:
            raise TokenError("the token has expired; obtain a new one with a signed request")
        return claims

    def _claims(self, token: str) -> TokenClaims:
        """The claims of a token this hub issued (MAC checked); TokenError otherwise."""
        prefix, _, rest = token.partition(".")
        body, _, mac = rest.partition(".")
        if prefix != PREFIX or not body or not mac:
            raise TokenError("not a hub token")
        if not hmac.compare_digest(mac, self._mac(body)):
            raise TokenError("the token was not issued by this hub (or was altered)")
        try:
            raw = json.loads(_unb64(body))
            claims = TokenClaims(str(raw["org"]), str(raw["kid"]), int(raw["iat"]), int(raw["exp"]))
        except (ValueError, KeyError, TypeError):
            raise TokenError("the token's claims are malformed") from None
        return claims
