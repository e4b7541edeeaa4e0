"""Subscriptions (graphql-transport-ws): newly verified records on the product lines you may read.

The WebSocket carries no HTTP signature, so the client authenticates in `connection_init` with a
bearer token (`{"Authorization": "Bearer …"}`, obtained from /auth/token); the connection is
refused otherwise. Each announced record is checked against the subscriber's compiled grant set
(recomputed only when its grants version changes), masked like any read, and logged as a read.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from cbamhub.policies import PolicyError, fields_for
from cbamhub.vault import reading
from cbamhub.vault.errors import NotFound
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types import Info

from cbamhub.access import RecordAccess, ref_of_stored

from .access_log_batches import AccessLogBatches
from .authentication import AuthenticationFailed, Authenticator
from .graphql_types import Record
from .record_events import RecordBus
from .record_reads import access_of, policy_error, read_entry


async def authenticate_connection(context: dict[str, Any], authenticator: Authenticator) -> None:
    """Sets context["caller"] from connection_init's bearer token, or refuses the connection."""
    params = context.get("connection_params") or {}
    header = (
        (params.get("Authorization") or params.get("authorization"))
        if isinstance(params, dict)
        else None
    )
    if not isinstance(header, str) or not header.lower().startswith("bearer "):
        raise ConnectionRejectionError(
            {
                "code": "UNAUTHENTICATED",
                "message": 'send {"Authorization": "Bearer <token>"} in connection_init',
            }
        )
    try:
        context["caller"] = await authenticator.from_token(header[7:].strip())
    except AuthenticationFailed as error:
        raise ConnectionRejectionError(
            {"code": "UNAUTHENTICATED", "message": error.message}
        ) from None


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Records verified from now on that you may read (masked like any read)."
    )
    async def verified_records(self, info: Info) -> AsyncGenerator[Record, None]:
        base = access_of(info)
        access_log: AccessLogBatches = info.context["access_log"]
        bus: RecordBus = info.context["request"].app.state.record_bus
        async with bus.listen() as queue:
            while True:
                record_id = await queue.get()
                access = RecordAccess(
                    base.router, base.authorizer, base.principal, grant_cache=base.grant_cache
                )
                try:
                    stored = await reading.record_with_proof(access.router, record_id)
                    scopes = await access.scopes()
                except NotFound:
                    continue
                except PolicyError as error:
                    raise policy_error(error) from error
                ref = ref_of_stored(stored)
                allowed = fields_for(scopes, ref)
                if allowed is False:
                    continue
                fields = allowed if isinstance(allowed, frozenset) else None
                read = read_entry(info, ref, fields)
                if read is not None:  # a subscription never ends: log each read as it happens
                    await access_log.write([read])
                yield Record.from_stored(stored, fields, "verified")
