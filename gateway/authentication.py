"""Who is calling: an organisation proven by an RFC 9421 signature or by a token issued for one.

Every credential resolves to an organisation key that must be valid *now* (vault/identities.py), so a
revoked or rotated-out key stops working for signatures and for the tokens it obtained alike. Checked
keys are remembered for `auth_key_cache_seconds` (default 1 s): the bound on how long a revocation
takes to bite, traded for not reading the shard on every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cbamhub.vault.errors import VaultError
from cbamhub.vault.identities import get_organisation, organisation_key
from cbamhub.vault.ids import region_of
from cbamhub.vault.shards import ShardRouter

from cbamhub.settings import Settings
from cbamhub.ttl_cache import TtlCache

from . import http_signatures as hs
from .tokens import TokenError, TokenIssuer

_CACHE_SIZE = 10_000


class AuthenticationFailed(Exception):
    """Credentials were presented and are wrong, stale or revoked: answered with 401."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Caller:
    """The authenticated organisation behind a request, and how it proved itself."""

    organisation_id: str
    role: str
    region: str
    key_id: str
    method: Literal["signature", "token"]


def split_keyid(keyid: str) -> tuple[str, str]:
    """A hub signature's keyid is `<organisation id>/<key id>`."""
    organisation, sep, kid = keyid.partition("/")
    if not sep or not organisation or not kid:
        raise AuthenticationFailed(
            f"keyid {keyid!r} must be '<organisation id>/<key id>', e.g. org_eu_…/ed25519:…"
        )
    return organisation, kid


class Authenticator:
    def __init__(
        self,
        router: ShardRouter,
        settings: Settings,
        tokens: TokenIssuer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._router = router
        self._settings = settings
        self.tokens = tokens
        self._clock = clock
        # single flight: the requests in flight when a key's entry expires share one read
        self._keys: TtlCache[tuple[str, bytes]] = TtlCache(
            settings.auth_key_cache_seconds, max_entries=_CACHE_SIZE
        )

    async def _key(self, organisation_id: str, kid: str) -> tuple[str, bytes]:
        """(role, public key) of a key valid now; AuthenticationFailed otherwise."""

        async def load() -> tuple[str, bytes]:
            try:
                region_of(organisation_id, "org")
                key = await organisation_key(self._router, organisation_id, kid)
                role = (await get_organisation(self._router, organisation_id)).role
            except VaultError as error:
                raise AuthenticationFailed(error.message) from None
            return role, key.public_key

        return await self._keys.get((organisation_id, kid), load)

    def forget(self, organisation_id: str, kid: str) -> None:
        """Drop a cached key at once (called when this gateway revokes or rotates it)."""
        self._keys.invalidate((organisation_id, kid))

    async def authenticate(self, request: hs.Request) -> Caller | None:
        """The caller, None when the request carries no credentials at all."""
        authorization = request.header("authorization")
        has_signature = request.header("signature-input") is not None
        if authorization is not None and has_signature:
            raise AuthenticationFailed("send either a signature or a bearer token, not both")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationFailed("Authorization must be 'Bearer <token>'")
            return await self.from_token(token.strip())
        if has_signature or request.header("signature") is not None:
            return await self.from_signature(request)
        return None

    async def from_token(self, token: str) -> Caller:
        try:
            claims = self.tokens.check(token, self._clock())
        except TokenError as error:
            raise AuthenticationFailed(str(error)) from None
        role, _ = await self._key(claims.organisation_id, claims.key_id)
        region = region_of(claims.organisation_id, "org")
        return Caller(claims.organisation_id, role, region, claims.key_id, "token")

    async def from_signature(self, request: hs.Request) -> Caller:
        try:
            sig = hs.parse(request)
            hs.check_freshness(
                sig,
                self._clock(),
                self._settings.auth_max_signature_age_seconds,
                self._settings.auth_clock_skew_seconds,
            )
        except hs.SignatureError as error:
            raise AuthenticationFailed(str(error)) from None
        organisation_id, kid = split_keyid(sig.keyid)
        role, public_key = await self._key(organisation_id, kid)
        try:
            hs.verify(request, sig, public_key)
        except hs.SignatureError as error:
            raise AuthenticationFailed(str(error)) from None
        return Caller(organisation_id, role, region_of(organisation_id, "org"), kid, "signature")
