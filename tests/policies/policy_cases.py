"""Principals, records and grants shared by the policy tests (a unique basename: no __init__.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cbamhub.policies import Grant, GrantSet, Principal, RecordRef

NOW = datetime(2025, 6, 1, tzinfo=UTC)

IMPORTER_EU = Principal("org_eu_imp", "importer", "eu")
OTHER_IMPORTER_EU = Principal("org_eu_other", "importer", "eu")
IMPORTER_CN = Principal("org_cn_imp", "importer", "cn")
MANUFACTURER_CN = Principal("org_cn_mfr", "manufacturer", "cn")
VERIFIER_CN = Principal("org_cn_ver", "verifier", "cn")
REGULATOR_EU = Principal("org_eu_reg", "regulator", "eu")
CUSTOMS_EU = Principal("org_eu_customs", "customs", "eu")
UNKNOWN_ROLE = Principal("org_eu_x", "superuser", "eu")

RECORD_CN = RecordRef("rec_cn_1", "org_cn_mfr", "ins_cn_1", "pl_cn_1", "72081000", "cn")
RECORD_CN_OTHER_LINE = RecordRef("rec_cn_2", "org_cn_mfr", "ins_cn_1", "pl_cn_2", "72082000", "cn")
RECORD_EU = RecordRef("rec_eu_1", "org_cn_mfr", "ins_eu_1", "pl_eu_1", "76011000", "eu")
RECORD_TR = RecordRef("rec_tr_1", "org_cn_mfr", "ins_tr_1", "pl_tr_1", "25231000", "tr")

BASE_GRANT = Grant(
    grant_id="gr_1",
    manufacturer_id="org_cn_mfr",
    importer_id="org_eu_imp",
    product_line_id="pl_cn_1",
    installation_id=None,
    cn_codes=(),
    fields=None,
    purpose="CBAM declaration 2025",
    valid_from=datetime(2025, 1, 1, tzinfo=UTC),
    valid_until=datetime(2026, 1, 1, tzinfo=UTC),
    revoked=False,
)


def grant(**changes: object) -> Grant:
    return replace(BASE_GRANT, **changes)  # type: ignore[arg-type]


def grant_set(*grants: Grant, version: str = "v1") -> GrantSet:
    return GrantSet.of(version, grants)


def many_grants(n: int, importer: str = "org_eu_imp") -> GrantSet:
    """n grants of one importer on n product lines, the first of which is pl_cn_1."""
    return GrantSet.of(
        f"many-{n}",
        (
            grant(
                grant_id=f"gr_{i}",
                importer_id=importer,
                product_line_id="pl_cn_1" if i == 0 else f"pl_cn_{i + 100}",
                valid_until=NOW + timedelta(days=30 + i),
            )
            for i in range(n)
        ),
    )
