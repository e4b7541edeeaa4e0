"""A world for the authorization tests: manufacturers, importers with and without grants, verifiers,
a regulator and customs, each with a key that signs on the test's side, and records of several
regions (region export rules: the example configuration in policies/data/regions.json)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cbamhub.vault import grants, identities, lifecycle, publishing
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey

from cbamhub.client import SignedRequests
from cbamhub.demo import register_sample_site, sample_record
from cbamhub.settings import Settings


def world_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        regions={r: f"sqlite+aiosqlite:///{tmp_path / f'{r}.db'}" for r in ("eu", "cn", "row")},
        country_regions={"DE": "eu", "CN": "cn"},
        default_region="row",
        create_missing_keys=True,
        **overrides,
    )


RECORD = """query($id: ID!) { record(id: $id) {
  id status seeDirect seeIndirect methodology dataQualityTier productionMethod countryCode
  visibleFields document signature evidence inclusionProof { leafIndex salt hashes }
} }"""
RECORDS = """{ records(first: 50) { edges { node { id visibleFields seeDirect document } } } }"""

FULL, MASKED, FORBIDDEN = "full", "masked", "FORBIDDEN"


@dataclass
class World:
    url: str
    orgs: dict[str, tuple[str, OrganisationKey]]
    records: dict[str, str]

    def auth(self, name: str) -> SignedRequests:
        org, key = self.orgs[name]
        return SignedRequests(org, key)

    async def gql(self, name: str, query: str, **variables: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30, auth=self.auth(name)) as client:
            response = await client.post(
                f"{self.url}/graphql", json={"query": query, "variables": variables}
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def sees(self, name: str, record: str) -> tuple[str, dict[str, Any] | None]:
        body = await self.gql(name, RECORD, id=self.records[record])
        if body.get("errors"):
            return body["errors"][0]["extensions"]["code"], None
        node = body["data"]["record"]
        return (FULL if node["visibleFields"] is None else MASKED), node


ROLES = {
    "M": ("manufacturer", "TR"),
    "M2": ("manufacturer", "TR"),
    "I_row": ("importer", "US"),
    "I_eu": ("importer", "DE"),
    "I_fields": ("importer", "US"),
    "I_none": ("importer", "US"),
    "I_revoked": ("importer", "US"),
    "I_expired": ("importer", "US"),
    "V": ("verifier", "DE"),
    "V2": ("verifier", "DE"),
    "R": ("regulator", "DE"),
    "C": ("customs", "DE"),
}


async def build(router: ShardRouter, world: dict[str, Any]) -> None:
    orgs: dict[str, tuple[str, OrganisationKey]] = {}
    for n, (name, (role, country)) in enumerate(ROLES.items()):
        key = OrganisationKey.generate()
        eori = f"DE{n:012d}" if role == "importer" else None
        org = OrganisationIn(role=role, legal_name=f"{name} Ltd", country=country, eori=eori)
        orgs[name] = (await identities.register_organisation(router, org, key.public_key), key)
    sites = {
        "M_TR": await register_sample_site(router, orgs["M"][0], orgs["M"][1], "TR", ["72081000"]),
        "M_CN": await register_sample_site(router, orgs["M"][0], orgs["M"][1], "CN", ["72081000"]),
        "M2_TR": await register_sample_site(
            router, orgs["M2"][0], orgs["M2"][1], "TR", ["72081000"]
        ),
    }
    records = {}
    for label, owner, site, country in (
        ("rTR", "M", "M_TR", "TR"),
        ("rCN", "M", "M_CN", "CN"),
        ("rX", "M2", "M2_TR", "TR"),
    ):
        installation, line = sites[site]
        document = sample_record(
            orgs[owner][0], installation, country, "72081000", "2026", 1.9, 0.3,
            product_line_id=line,
        )  # fmt: skip
        signed = orgs[owner][1].sign_document(document)
        published = await publishing.publish(
            router, signed.payload, signed.signature, signed.key_id
        )
        records[label] = published.record_id
    now = datetime.now(UTC)
    m_id, m_key = orgs["M"]

    async def grant(importer: str, until: datetime, fields: list[str] | None = None) -> str:
        document: dict[str, Any] = {
            "action": "grant.create",
            "manufacturer": m_id,
            "importer": orgs[importer][0],
            "product_line": sites["M_TR"][1],
            "purpose": "CBAM declaration 2026",
            "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_until": until.isoformat(),
        }
        if fields is not None:
            document["fields"] = fields
        return (await grants.grant_access(router, m_key.sign_document(document))).id

    year = now + timedelta(days=365)
    for importer in ("I_row", "I_eu"):
        await grant(importer, year)
    await grant("I_fields", year, ["directEmissions"])
    revoked = await grant("I_revoked", year)
    await grants.revoke_grant(
        router, m_key.sign_document({"action": "grant.revoke", "grant": revoked})
    )
    await grant("I_expired", now + timedelta(seconds=2))
    await lifecycle.request_verification(
        router,
        m_key.sign_document(
            {
                "action": "record.request_verification",
                "record": records["rTR"],
                "verifier": orgs["V"][0],
            }
        ),
    )
    world.update(orgs=orgs, records=records, expired_at=now + timedelta(seconds=2))
