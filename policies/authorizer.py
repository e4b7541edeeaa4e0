"""The one API the gateway and the gRPC door ask: may this principal see this, and which fields.

Fail closed: an engine error, a timeout, or an answer of the wrong shape raises `PolicyUnavailable`
(and never allows). Decisions are cached per (principal, grants version, question) until the TTL or
the next instant a grant starts or ends, whichever is first; a decision asked for an explicit `now`
is never cached (it is a question about another time).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from .decision_cache import DecisionCache, InProcessDecisionCache
from .decisions import Decision, Scope, parse_decision, parse_scopes
from .engine import PolicyEngine
from .errors import PolicyUnavailable
from .grants import NO_ASSIGNMENTS, NO_GRANTS, AssignmentSet, GrantSet, rfc3339
from .subjects import Principal, RecordRef

T = TypeVar("T")

READ = "cbamhub/authz/read"
CUSTOMS = "cbamhub/authz/customs_check"
AUDIT = "cbamhub/authz/audit"
VERIFY = "cbamhub/authz/verify"
SCOPES = "cbamhub/authz/scopes"


class Authorizer:
    def __init__(
        self,
        engine: PolicyEngine,
        *,
        timeout_seconds: float = 2.0,
        cache: DecisionCache | None = None,
        cache_ttl_seconds: float = 30.0,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self.engine = engine
        self.timeout_seconds = timeout_seconds
        self.cache: DecisionCache = cache if cache is not None else InProcessDecisionCache()
        self.cache_ttl_seconds = cache_ttl_seconds

    async def read_record(
        self,
        principal: Principal,
        record: RecordRef,
        grants: GrantSet = NO_GRANTS,
        *,
        assignments: AssignmentSet = NO_ASSIGNMENTS,
        now: datetime | None = None,
    ) -> Decision:
        document = {
            "principal": principal.to_input(),
            "record": record.to_input(),
            "grants": grants.lookup(principal.organisation_id, record.product_line_id),
            "assignments": assignments.document,
        }
        key = _record_key(record)
        return await self._decide(
            READ, principal, document, grants, assignments, key, now, {principal.organisation_id}
        )

    async def customs_check(
        self,
        principal: Principal,
        importer_id: str,
        record: RecordRef,
        grants: GrantSet,
        *,
        now: datetime | None = None,
    ) -> Decision:
        """May customs `principal` check a declaration line of `importer_id` against `record`?"""
        document = {
            "principal": principal.to_input(),
            "importer_id": importer_id,
            "record": record.to_input(),
            "grants": grants.lookup(importer_id, record.product_line_id),
        }
        key = (importer_id, *_record_key(record))
        tags = {principal.organisation_id, importer_id}
        return await self._decide(
            CUSTOMS, principal, document, grants, NO_ASSIGNMENTS, key, now, tags
        )

    async def audit(
        self, principal: Principal, record: RecordRef, *, now: datetime | None = None
    ) -> Decision:
        document = {"principal": principal.to_input(), "record": record.to_input()}
        return await self._decide(
            AUDIT,
            principal,
            document,
            NO_GRANTS,
            NO_ASSIGNMENTS,
            _record_key(record),
            now,
            {principal.organisation_id},
        )

    async def verify_access(
        self,
        principal: Principal,
        record: RecordRef,
        assignments: AssignmentSet,
        *,
        now: datetime | None = None,
    ) -> Decision:
        document = {
            "principal": principal.to_input(),
            "record": record.to_input(),
            "assignments": assignments.document,
        }
        return await self._decide(
            VERIFY,
            principal,
            document,
            NO_GRANTS,
            assignments,
            _record_key(record),
            now,
            {principal.organisation_id},
        )

    async def scopes(
        self,
        principal: Principal,
        grants: GrantSet = NO_GRANTS,
        *,
        assignments: AssignmentSet = NO_ASSIGNMENTS,
        now: datetime | None = None,
    ) -> tuple[Scope, ...]:
        """The compiled grant set: what `principal` may read, once per request, for SQL pushdown."""
        document = {
            "principal": principal.to_input(),
            "grants": grants.of_importer(principal.organisation_id),
            "assignments": assignments.document,
        }
        answer = await self._answer(
            SCOPES, principal, document, grants, assignments, (), now, {principal.organisation_id}
        )
        return self._parsed(SCOPES, answer, parse_scopes)

    async def grants_changed(self, *organisation_ids: str) -> None:
        """The invalidation hook: call it with the importer and manufacturer of a grant that was
        created, changed or revoked, so no cached decision of theirs survives the change."""
        for organisation_id in organisation_ids:
            await self.cache.invalidate(organisation_id)

    async def ready(self) -> bool:
        """Whether the engine answers with the bundle loaded, within the timeout; never raises."""
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self.engine.ready()
        except Exception:
            return False

    async def aclose(self) -> None:
        await self.engine.aclose()

    async def _decide(
        self,
        path: str,
        principal: Principal,
        document: dict[str, Any],
        grants: GrantSet,
        assignments: AssignmentSet,
        key: tuple[str | None, ...],
        now: datetime | None,
        tags: set[str],
    ) -> Decision:
        answer = await self._answer(path, principal, document, grants, assignments, key, now, tags)
        return self._parsed(path, answer, parse_decision)

    async def _answer(
        self,
        path: str,
        principal: Principal,
        document: dict[str, Any],
        grants: GrantSet,
        assignments: AssignmentSet,
        key: tuple[str | None, ...],
        now: datetime | None,
        tags: set[str],
    ) -> Any:
        cacheable = now is None
        moment = now or datetime.now(UTC)
        cache_key = _cache_key(path, principal, grants, assignments, key)
        if cacheable:
            cached = await self.cache.get(cache_key)
            if cached is not None:
                return cached
        full = {**document, "now": rfc3339(moment)}
        answer = await self._guarded(path, lambda: self.engine.evaluate(path, full))
        if cacheable and answer is not None:
            ttl = self.cache_ttl_seconds
            boundary = grants.next_boundary(moment)
            if boundary is not None:
                ttl = min(ttl, (boundary - moment).total_seconds())
            await self.cache.put(cache_key, answer, ttl, tags)
        return answer

    async def _guarded(self, path: str, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await call()
        except TimeoutError as exc:
            raise PolicyUnavailable(
                f"policy engine gave no answer on {path} within {self.timeout_seconds} s: denied"
            ) from exc
        except Exception as exc:
            raise PolicyUnavailable(f"policy engine failed on {path}: {exc}: denied") from exc

    def _parsed(self, path: str, answer: Any, parse: Callable[[str, Any], T]) -> T:
        try:
            return parse(path, answer)
        except Exception as exc:
            raise PolicyUnavailable(f"{exc}: denied") from exc


def _record_key(record: RecordRef) -> tuple[str | None, ...]:
    return (
        record.id,
        record.manufacturer_id,
        record.installation_id,
        record.product_line_id,
        record.cn_code,
        record.region,
    )


def _cache_key(
    path: str,
    principal: Principal,
    grants: GrantSet,
    assignments: AssignmentSet,
    key: tuple[str | None, ...],
) -> str:
    question = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32]
    return "|".join(
        (
            principal.organisation_id,
            principal.role,
            principal.region,
            path,
            grants.version,
            assignments.version,
            question,
        )
    )
