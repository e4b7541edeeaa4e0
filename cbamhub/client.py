"""The organisation's side of talking to a hub: httpx authentication that signs every request with
the organisation's own Ed25519 key (RFC 9421), or trades one signed request for a bearer token.

The private key never leaves the caller. Used by the `cbamhub` CLI, the demo and the tests; any HTTP
client can do the same from the description in the README.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, field

import httpx

from cbamhub.gateway import http_signatures as hs
from cbamhub.vault.signing import OrganisationKey


def _request(request: httpx.Request, body: bytes) -> hs.Request:
    return hs.Request(request.method, str(request.url), dict(request.headers), body)


@dataclass
class SignedRequests(httpx.Auth):
    """Signs each request as `organisation_id` with `key` (covers method, authority, path, query and
    the body's Content-Digest)."""

    organisation_id: str
    key: OrganisationKey
    requires_request_body = True

    def sign(self, request: httpx.Request) -> None:
        keyid = f"{self.organisation_id}/{self.key.key_id}"
        request.headers.update(hs.sign(_request(request, request.content), self.key.seed, keyid))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request


@dataclass
class BearerTokens(httpx.Auth):
    """Obtains a token from `<base>/auth/token` with one signed request and reuses it until shortly
    before it expires; a 401 (revoked key, restarted hub with another secret) fetches a new one once."""

    base_url: str
    signer: SignedRequests
    refresh_before_seconds: int = 30
    _token: str | None = field(default=None, init=False)
    _expires_at: float = field(default=0.0, init=False)

    def _token_request(self) -> httpx.Request:
        request = httpx.Request("POST", f"{self.base_url.rstrip('/')}/auth/token")
        self.signer.sign(request)
        return request

    def _take(self, response: httpx.Response) -> None:
        response.raise_for_status()
        body = response.json()
        self._token, self._expires_at = body["token"], float(body["expires_at"])

    def _stale(self) -> bool:
        return self._token is None or time.time() > self._expires_at - self.refresh_before_seconds

    def _with_token(self, request: httpx.Request) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if self._stale():
            token_response = yield self._token_request()
            token_response.read()
            self._take(token_response)
        response = yield self._with_token(request)
        if response.status_code == 401:
            token_response = yield self._token_request()
            token_response.read()
            self._take(token_response)
            yield self._with_token(request)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._stale():
            token_response = yield self._token_request()
            await token_response.aread()
            self._take(token_response)
        response = yield self._with_token(request)
        if response.status_code == 401:
            token_response = yield self._token_request()
            await token_response.aread()
            self._take(token_response)
            yield self._with_token(request)
