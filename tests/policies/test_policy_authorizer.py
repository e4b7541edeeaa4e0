"""The Authorizer's contract beyond single decisions: the decision cache, its invalidation, and
scopes that mean exactly what per-record decisions mean."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cbamhub.policies import (
    Authorizer,
    Decision,
    InProcessDecisionCache,
    PolicyEngine,
    RecordRef,
    RegoEngine,
    fields_for,
)
from policy_cases import (
    BASE_GRANT,
    IMPORTER_EU,
    NOW,
    RECORD_CN,
    RECORD_CN_OTHER_LINE,
    RECORD_EU,
    RECORD_TR,
    grant,
    grant_set,
    many_grants,
)


class CountingEngine:
    """The real embedded engine, counting how often it is asked."""

    def __init__(self, inner: PolicyEngine) -> None:
        self.inner = inner
        self.calls = 0

    async def evaluate(self, path: str, input: Mapping[str, Any]) -> Any:
        self.calls += 1
        return await self.inner.evaluate(path, input)

    async def ready(self) -> bool:
        return await self.inner.ready()

    async def aclose(self) -> None:
        await self.inner.aclose()


def current_grant(**changes: Any) -> Any:
    now = datetime.now(UTC)
    return grant(valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=1), **changes)


async def test_a_repeated_question_is_answered_from_the_cache(rego_engine: RegoEngine) -> None:
    engine = CountingEngine(rego_engine)
    authorizer = Authorizer(engine)
    grants = grant_set(current_grant())
    first = await authorizer.read_record(IMPORTER_EU, RECORD_CN, grants)
    second = await authorizer.read_record(IMPORTER_EU, RECORD_CN, grants)
    assert first == second and first.allow
    assert engine.calls == 1
    await authorizer.read_record(IMPORTER_EU, RECORD_CN_OTHER_LINE, grants)
    assert engine.calls == 2


async def test_a_new_grants_version_is_decided_again(rego_engine: RegoEngine) -> None:
    engine = CountingEngine(rego_engine)
    authorizer = Authorizer(engine)
    assert (await authorizer.read_record(IMPORTER_EU, RECORD_CN, grant_set(current_grant()))).allow
    revoked = grant_set(current_grant(revoked=True), version="v2")
    decision = await authorizer.read_record(IMPORTER_EU, RECORD_CN, revoked)
    assert not decision.allow and "revoked" in decision.reason
    assert engine.calls == 2


async def test_grants_changed_evicts_the_organisations_cached_decisions(
    rego_engine: RegoEngine,
) -> None:
    engine = CountingEngine(rego_engine)
    authorizer = Authorizer(engine)
    grants = grant_set(current_grant())
    await authorizer.read_record(IMPORTER_EU, RECORD_CN, grants)
    await authorizer.scopes(IMPORTER_EU, grants)
    await authorizer.grants_changed("org_eu_imp", "org_cn_mfr")
    await authorizer.read_record(IMPORTER_EU, RECORD_CN, grants)
    await authorizer.scopes(IMPORTER_EU, grants)
    assert engine.calls == 4


async def test_a_decision_is_not_cached_past_the_end_of_its_grant(rego_engine: RegoEngine) -> None:
    clock = [0.0]
    cache = InProcessDecisionCache(clock=lambda: clock[0])
    engine = CountingEngine(rego_engine)
    authorizer = Authorizer(engine, cache=cache, cache_ttl_seconds=3600)
    ending = grant(
        valid_from=datetime.now(UTC) - timedelta(days=1),
        valid_until=datetime.now(UTC) + timedelta(seconds=5),
    )
    grants = grant_set(ending)
    assert (await authorizer.read_record(IMPORTER_EU, RECORD_CN, grants)).allow
    clock[0] = 4.0
    await authorizer.read_record(IMPORTER_EU, RECORD_CN, grants)
    assert engine.calls == 1
    clock[0] = 6.0  # past valid_until: the cached allow is gone
    await authorizer.read_record(IMPORTER_EU, RECORD_CN, grants)
    assert engine.calls == 2


async def test_questions_about_an_explicit_time_are_never_cached(rego_engine: RegoEngine) -> None:
    engine = CountingEngine(rego_engine)
    authorizer = Authorizer(engine)
    grants = grant_set(BASE_GRANT)
    assert (await authorizer.read_record(IMPORTER_EU, RECORD_CN, grants, now=NOW)).allow
    later = NOW + timedelta(days=365)
    assert not (await authorizer.read_record(IMPORTER_EU, RECORD_CN, grants, now=later)).allow
    assert engine.calls == 2


async def test_the_in_process_cache_is_bounded_and_expires() -> None:
    clock = [0.0]
    cache = InProcessDecisionCache(max_entries=2, clock=lambda: clock[0])
    await cache.put("a", {"v": 1}, 10, {"org_a"})
    await cache.put("b", {"v": 2}, 10, {"org_b"})
    assert await cache.get("a") == {"v": 1}  # a is now the most recently used
    await cache.put("c", {"v": 3}, 10, {"org_a"})
    assert await cache.get("b") is None and len(cache) == 2
    await cache.invalidate("org_a")
    assert await cache.get("a") is None and await cache.get("c") is None
    await cache.put("d", {"v": 4}, 1, set())
    clock[0] = 1.0
    assert await cache.get("d") is None and len(cache) == 0


def test_a_decision_masks_a_document_to_its_fields() -> None:
    document = {"id": "rec_cn_1", "direct_emissions": 1.9, "activity_data": {"net_mass": 10}}
    assert Decision(True, frozenset({"id", "direct_emissions"}), "").mask(document) == {
        "id": "rec_cn_1",
        "direct_emissions": 1.9,
    }
    assert Decision(True, None, "").mask(document) == document
    assert Decision(False, frozenset(), "no").mask(document) == {}
    assert not Decision(False, frozenset(), "no").permits("id")


@pytest.mark.parametrize(
    "grants",
    [
        grant_set(BASE_GRANT),
        grant_set(grant(fields=frozenset({"direct_emissions", "activity_data"}))),
        grant_set(grant(product_line_id=None, cn_codes=("7208", "7601"))),
        grant_set(
            grant(grant_id="gr_a", product_line_id="pl_eu_1", fields=frozenset({"methodology"})),
            grant(
                grant_id="gr_b", product_line_id="pl_eu_1", fields=frozenset({"direct_emissions"})
            ),
            grant(grant_id="gr_c", product_line_id="pl_tr_1", installation_id="ins_tr_9"),
            grant(grant_id="gr_d", product_line_id="pl_cn_2", revoked=True),
        ),
        many_grants(40),
    ],
    ids=["one", "restricted", "by-cn-code", "mixed", "forty"],
)
async def test_scopes_mean_exactly_what_record_decisions_mean(
    rego_engine: RegoEngine, grants: Any
) -> None:
    """SQL pushdown is sound and complete: a record matches the scopes iff it may be read, with
    the same fields."""
    authorizer = Authorizer(rego_engine)
    scopes = await authorizer.scopes(IMPORTER_EU, grants, now=NOW)
    records = [RECORD_CN, RECORD_CN_OTHER_LINE, RECORD_EU, RECORD_TR]
    records += [
        RecordRef(f"rec_{r}_x", "org_cn_mfr", f"ins_{r}_1", line, cn, r)
        for r, line, cn in [
            ("cn", "pl_cn_7", "76011000"),
            ("eu", "pl_eu_1", "72081000"),
            ("tr", "pl_tr_1", "72089000"),
            ("in", "pl_in_1", "76012000"),
        ]
    ]
    for record in records:
        decision = await authorizer.read_record(IMPORTER_EU, record, grants, now=NOW)
        pushed = fields_for(scopes, record)
        if decision.allow:
            assert pushed == decision.fields, record
        else:
            assert pushed is False, (record, decision.reason)
