"""The GraphQL side of reading records: one `RecordAccess` per request, typed errors.

A denied read answers FORBIDDEN with a message that says no more than the caller already knows (the
record id); the policy's reason, which can name the record's manufacturer, goes to the server log
with the request id. A policy engine that cannot answer is POLICY_UNAVAILABLE: denied, never allowed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from cbamhub.ledger.log import LogError
from cbamhub.policies import Decision, PolicyError, Principal, RecordRef
from cbamhub.vault.access_log import Read
from cbamhub.vault.errors import VaultError
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from cbamhub.access import RecordAccess

from .anonymous import caller_of
from .errors import graphql_error

LOG = logging.getLogger("cbamhub.gateway.authz")


def access_of(info: Info) -> RecordAccess:
    """The request's RecordAccess, made on first use (grants are then loaded once per request)."""
    context: dict[str, Any] = info.context
    access: RecordAccess | None = context.get("access")
    if access is None:
        caller = caller_of(info)
        state = context["request"].app.state
        access = RecordAccess(
            state.router,
            state.authorizer,
            Principal(caller.organisation_id, caller.role, caller.region),
            grant_cache=state.grant_cache,
        )
        context["access"] = access
    return access


def denied(info: Info, ref: RecordRef, decision: Decision) -> GraphQLError:
    caller = caller_of(info)
    LOG.info(
        "denied %s read of %s: %s (request %s)",
        caller.organisation_id,
        ref.id,
        decision.reason,
        info.context.get("request_id"),
    )
    return GraphQLError(
        f"record {ref.id} is not readable by {caller.organisation_id}: no grant, verification "
        "assignment or audit right covers it",
        extensions={"code": "FORBIDDEN"},
    )


def policy_error(error: PolicyError) -> GraphQLError:
    return GraphQLError(
        f"access cannot be decided right now, so it is denied: {error}",
        extensions={"code": error.code},
    )


def count_decision(info: Info, action: str, outcome: str) -> None:
    info.context["request"].app.state.metrics.policy_decisions.labels(action, outcome).inc()


async def decide(info: Info, ref: RecordRef, access: RecordAccess | None = None) -> Decision:
    """The allowing decision for reading `ref`, or the typed GraphQL error."""
    try:
        decision = await (access or access_of(info)).decide(ref)
    except PolicyError as error:
        count_decision(info, "read", "error")
        raise policy_error(error) from error
    count_decision(info, "read", "allow" if decision.allow else "deny")
    if not decision.allow:
        raise denied(info, ref, decision)
    return decision


def read_entry(
    info: Info, ref: RecordRef, fields: frozenset[str] | None, at: datetime | None = None
) -> Read | None:
    """The access-log entry of serving `ref` at `at` (default now); None for the record's own
    manufacturer."""
    caller = caller_of(info)
    if caller.organisation_id == ref.manufacturer_id:
        return None
    return Read(
        ref.id,
        ref.manufacturer_id,
        caller.organisation_id,
        info.context.get("request_id"),
        None if fields is None else tuple(sorted(fields)),
        at or datetime.now(UTC),
    )


def note_read(info: Info, ref: RecordRef, fields: frozenset[str] | None) -> None:
    """Remember a record served to someone other than its manufacturer, for the access log the
    manufacturer sees (written once per request by `AccessLogWriter`). The reads of one operation
    share one time: the operation's first read."""
    context = info.context
    reads = context.get("reads")
    if reads is None:
        reads = context["reads"] = []
    read = read_entry(info, ref, fields, reads[0].read_at if reads else None)
    if read is not None:
        reads.append(read)


class AccessLogWriter(SchemaExtension):
    """Writes the operation's reads to the access log after it ran, before the answer leaves
    (group-committed with other requests' reads: gateway/access_log_batches.py)."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        reads = context.get("reads") if isinstance(context, dict) else None
        if reads:
            await context["access_log"].write(reads)


def typed(error: Exception) -> GraphQLError:
    if isinstance(error, (VaultError, LogError)):
        return graphql_error(error)
    if isinstance(error, PolicyError):
        return policy_error(error)
    raise error
