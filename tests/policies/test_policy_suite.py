"""The Rego test suite passes on both engines, and both engines make the same decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cbamhub.policies import (
    AssignmentSet,
    Authorizer,
    Decision,
    GrantSet,
    OpaRestEngine,
    Principal,
    RecordRef,
    RegoEngine,
)
from cbamhub.policies.bundle import load_bundle
from cbamhub.policies.testing import discover, main, run_tests
from policy_cases import (
    BASE_GRANT,
    CUSTOMS_EU,
    IMPORTER_CN,
    IMPORTER_EU,
    MANUFACTURER_CN,
    NOW,
    OTHER_IMPORTER_EU,
    RECORD_CN,
    RECORD_CN_OTHER_LINE,
    RECORD_EU,
    RECORD_TR,
    REGULATOR_EU,
    UNKNOWN_ROLE,
    VERIFIER_CN,
    grant,
    grant_set,
)

SUITE = load_bundle(include_tests=True)
TESTS = discover(SUITE)


def test_the_suite_is_discovered_from_every_test_file() -> None:
    modules = {t.module for t in TESTS}
    assert modules == {m.name for m in SUITE.modules if m.is_test}
    assert len(TESTS) >= 50
    assert len({t.path for t in TESTS}) == len(TESTS)


async def test_rego_suite_passes_in_process() -> None:
    engine = RegoEngine(SUITE)
    outcomes = await run_tests(engine, TESTS)
    failures = [(o.test.rule, o.detail) for o in outcomes if not o.passed]
    assert failures == []


async def test_rego_suite_passes_over_rest_after_uploading_the_tests(
    opa_compatible_url: str,
) -> None:
    engine = OpaRestEngine(opa_compatible_url, timeout_seconds=10)
    try:
        await engine.push_bundle(SUITE)
        outcomes = await run_tests(engine, TESTS)
    finally:
        await engine.aclose()
    failures = [(o.test.rule, o.detail) for o in outcomes if not o.passed]
    assert failures == []
    assert len(outcomes) == len(TESTS)


async def test_a_failing_rego_test_is_reported_as_failed(tmp_path: object) -> None:
    engine = RegoEngine(SUITE)
    broken = [t for t in TESTS if t.rule == "test_importer_without_grant_is_denied"]
    missing = [type(broken[0])(broken[0].module, broken[0].package, "test_that_does_not_exist")]
    outcomes = await run_tests(engine, broken + missing)
    assert [o.passed for o in outcomes] == [True, False]
    assert outcomes[1].detail == "undefined"


def test_the_runner_exits_zero_when_both_engines_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert f"{2 * len(TESTS)} passed, 0 failed (2 engines)" in out


ASSIGNED = AssignmentSet("a1", {"rec_cn_1": "org_cn_ver"})

# (principal, record, grants): the decision table both engines must agree on
READS: list[tuple[Principal, RecordRef, GrantSet]] = [
    (MANUFACTURER_CN, RECORD_CN, grant_set()),
    (MANUFACTURER_CN, RECORD_EU, grant_set()),
    (Principal("org_cn_x", "manufacturer", "cn"), RECORD_CN, grant_set()),
    (IMPORTER_EU, RECORD_CN, grant_set()),
    (IMPORTER_EU, RECORD_CN, grant_set(BASE_GRANT)),
    (IMPORTER_EU, RECORD_CN, grant_set(grant(revoked=True))),
    (IMPORTER_EU, RECORD_CN, grant_set(grant(valid_until=NOW - timedelta(seconds=1)))),
    (IMPORTER_EU, RECORD_CN, grant_set(grant(valid_from=NOW + timedelta(days=1)))),
    (IMPORTER_EU, RECORD_CN, grant_set(grant(fields=frozenset({"direct_emissions"})))),
    (IMPORTER_EU, RECORD_CN_OTHER_LINE, grant_set(BASE_GRANT)),
    (IMPORTER_EU, RECORD_CN, grant_set(grant(product_line_id=None, cn_codes=("7208",)))),
    (IMPORTER_EU, RECORD_EU, grant_set(grant(product_line_id="pl_eu_1"))),
    (IMPORTER_EU, RECORD_TR, grant_set(grant(product_line_id="pl_tr_1"))),
    (IMPORTER_CN, RECORD_EU, grant_set(grant(importer_id="org_cn_imp", product_line_id="pl_eu_1"))),
    (OTHER_IMPORTER_EU, RECORD_CN, grant_set(BASE_GRANT)),
    (VERIFIER_CN, RECORD_CN, grant_set()),
    (VERIFIER_CN, RECORD_CN_OTHER_LINE, grant_set()),
    (REGULATOR_EU, RECORD_CN, grant_set()),
    (REGULATOR_EU, RECORD_EU, grant_set()),
    (CUSTOMS_EU, RECORD_CN, grant_set(BASE_GRANT)),
    (UNKNOWN_ROLE, RECORD_CN, grant_set(BASE_GRANT)),
]


async def _decisions(authorizer: Authorizer) -> list[Decision]:
    out = []
    for principal, record, grants in READS:
        out.append(
            await authorizer.read_record(principal, record, grants, assignments=ASSIGNED, now=NOW)
        )
    for importer in ("org_eu_imp", "org_eu_other"):
        out.append(
            await authorizer.customs_check(
                CUSTOMS_EU, importer, RECORD_CN, grant_set(BASE_GRANT), now=NOW
            )
        )
    out.append(await authorizer.audit(REGULATOR_EU, RECORD_CN, now=NOW))
    out.append(await authorizer.audit(IMPORTER_EU, RECORD_CN, now=NOW))
    out.append(await authorizer.verify_access(VERIFIER_CN, RECORD_CN, ASSIGNED, now=NOW))
    out.append(await authorizer.verify_access(IMPORTER_EU, RECORD_CN, ASSIGNED, now=NOW))
    return out


async def test_both_engines_agree_on_the_decision_table(
    rego_engine: RegoEngine, rest_engine: OpaRestEngine
) -> None:
    embedded = await _decisions(Authorizer(rego_engine))
    rest = await _decisions(Authorizer(rest_engine))
    assert embedded == rest
    # the table is not trivially uniform: it has allows, denials, masks and full reads
    assert {d.allow for d in embedded} == {True, False}
    assert any(d.allow and d.fields is None for d in embedded)
    assert any(d.allow and d.fields is not None for d in embedded)
    expected_allow = [
        True, True, False, False, True, False, False, False, True, False, True, True, True,
        True, False, True, False, True, True, False, False,
        True, False, True, False, True, False,
    ]  # fmt: skip
    assert [d.allow for d in embedded] == expected_allow


async def test_both_engines_agree_on_scopes(
    rego_engine: RegoEngine, rest_engine: OpaRestEngine
) -> None:
    grants = grant_set(
        BASE_GRANT,
        grant(grant_id="gr_2", product_line_id=None, cn_codes=("7601",)),
        grant(grant_id="gr_3", product_line_id="pl_cn_9", revoked=True),
    )
    for principal in (IMPORTER_EU, MANUFACTURER_CN, REGULATOR_EU, VERIFIER_CN, UNKNOWN_ROLE):
        embedded = await Authorizer(rego_engine).scopes(
            principal, grants, assignments=ASSIGNED, now=NOW
        )
        rest = await Authorizer(rest_engine).scopes(
            principal, grants, assignments=ASSIGNED, now=NOW
        )
        assert embedded == rest, principal
