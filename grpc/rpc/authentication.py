"""Who is calling: an organisation, by its mTLS client certificate or by per-call signed metadata.

Both ways end at an organisation registered in the hub, with its role and home region; the policy
layer then decides what that organisation may do, exactly as for the GraphQL door. A client
certificate counts only because the server accepts client certificates from the configured CA alone
(its subject CN is the organisation id). A signature counts only if made by a key of that
organisation valid at the signed timestamp, and that timestamp is within the allowed age of now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from cbamhub.vault.errors import NotFound, VaultError
from cbamhub.vault.identities import Organisation, get_organisation
from cbamhub.vault.ids import region_of
from cbamhub.vault.shards import ShardRouter
from google.protobuf.message import Message

from cbamhub.settings import Settings
from cbamhub.ttl_cache import TtlCache

from .call_signing import (
    KEY_ID,
    ORGANISATION,
    SIGNATURE,
    TIMESTAMP,
    call_signature_valid,
    parse_timestamp,
    request_digest,
)
from .status import RpcError


@dataclass(frozen=True)
class Caller:
    organisation_id: str
    role: str
    region: str
    eori: str | None
    authenticated_by: str  # "mtls" or "signature"


def _unauthenticated(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.UNAUTHENTICATED, message)


class Authenticator:
    """Maps a call to its Caller; holds a short cache of organisations (per server, not global)."""

    def __init__(
        self,
        router: ShardRouter,
        settings: Settings,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._router = router
        self._max_age = timedelta(seconds=settings.grpc_signature_max_age_seconds)
        self._now = now
        self._organisations: TtlCache[Organisation] = TtlCache(settings.grpc_identity_cache_seconds)

    async def _organisation(self, organisation_id: str) -> Organisation:
        async def load() -> Organisation:
            try:
                region_of(organisation_id, "org")
                return await get_organisation(self._router, organisation_id)
            except (NotFound, VaultError) as error:
                raise _unauthenticated(f"unknown organisation {organisation_id!r}") from error

        return await self._organisations.get(organisation_id, load)

    @staticmethod
    def _caller(organisation: Organisation, how: str) -> Caller:
        region = region_of(organisation.id, "org")
        return Caller(organisation.id, organisation.role, region, organisation.eori, how)

    async def authenticate(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        method: str,
        request: Message | None,
    ) -> Caller:
        """The caller of `method`; RpcError(UNAUTHENTICATED) when it cannot be established."""
        metadata: dict[str, str | bytes] = {}
        for key, value in context.invocation_metadata() or ():
            metadata.setdefault(key, value)
        if ORGANISATION in metadata:
            return await self._signed(metadata, method, request)
        common_names = list((context.auth_context() or {}).get("x509_common_name") or [])
        if common_names:
            organisation_id = common_names[0].decode()
            return self._caller(await self._organisation(organisation_id), "mtls")
        raise _unauthenticated(
            "no client certificate and no signed call metadata "
            f"({ORGANISATION}, {KEY_ID}, {TIMESTAMP}, {SIGNATURE})"
        )

    async def _signed(
        self, metadata: dict[str, str | bytes], method: str, request: Message | None
    ) -> Caller:
        organisation_id, kid = metadata.get(ORGANISATION), metadata.get(KEY_ID)
        stamp, signature = metadata.get(TIMESTAMP), metadata.get(SIGNATURE)
        if not (
            isinstance(organisation_id, str)
            and isinstance(kid, str)
            and isinstance(stamp, str)
            and isinstance(signature, bytes)
        ):
            raise _unauthenticated(f"a signed call needs {KEY_ID}, {TIMESTAMP} and {SIGNATURE}")
        try:
            signed_at = parse_timestamp(stamp)
        except ValueError as error:
            raise _unauthenticated(f"{TIMESTAMP} is not an RFC 3339 time: {error}") from error
        if abs(self._now() - signed_at) > self._max_age:
            raise _unauthenticated(
                f"the call was signed at {stamp}, more than {self._max_age.total_seconds():.0f} s "
                "from now: sign each call afresh"
            )
        organisation = await self._organisation(organisation_id)
        key = next((k for k in organisation.keys if k.key_id == kid), None)
        if key is None or not key.valid_at(signed_at):
            raise _unauthenticated(f"key {kid} of {organisation_id} was not valid at {stamp}")
        digest = request_digest(request)
        if not call_signature_valid(key.public_key, method, stamp, digest, signature):
            raise _unauthenticated(
                f"the call signature does not match {method} and its request under key {kid}"
            )
        return self._caller(organisation, "signature")
