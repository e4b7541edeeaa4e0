"""A small world for the vault's lifecycle, grant and query tests: organisations that sign on the
test's side, registered installations and product lines, and records that name them.

Figures in the records are TEST INPUTS (see vault_samples.py); CN codes are Annex I codes
(shared/reference/cbam_facts.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cbamhub.ledger import bundles
from cbamhub.ledger.statements import Statement
from cbamhub.vault import identities, installations, publishing
from cbamhub.vault.installations import Installation, ProductLine
from cbamhub.vault.publishing import Published
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey, SignedDocument
from vault_samples import base

from cbamhub.settings import Settings

STEEL = "72081000"
WIRE = "72139110"
ALUMINIUM = "76011000"
LOCODES = {"CN": "CN SHA", "DE": "DE DUI", "TR": "TR IST", "IN": "IN BOM"}


def world_settings(region_urls: dict[str, str], data_dir: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        regions=region_urls,
        country_regions={"DE": "eu", "FR": "eu", "CN": "cn"},
        default_region="row",
        create_missing_keys=True,
    )


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Org:
    id: str
    key: OrganisationKey
    role: str

    def sign(self, document: Any) -> SignedDocument:
        return self.key.sign_document(document)


@dataclass(frozen=True)
class Site:
    """An installation with one product line."""

    owner: Org
    installation: Installation
    line: ProductLine


class World:
    def __init__(self, router: ShardRouter) -> None:
        self.router = router
        self._count = 0

    async def org(self, role: str, country: str = "DE") -> Org:
        key = OrganisationKey.generate()
        self._count += 1
        document: dict[str, Any] = {
            "action": "organisation.register",
            "role": role,
            "legal_name": f"Test {role} {self._count}",
            "country": country,
            "public_key": key.public_key.hex(),
        }
        if role == "importer":
            document["eori"] = f"DE{self._count:012d}"
        org_id = await identities.register_organisation_signed(
            self.router, key.sign_document(document)
        )
        return Org(org_id, key, role)

    async def site(
        self, owner: Org, country: str = "CN", cn_codes: tuple[str, ...] = (STEEL, WIRE)
    ) -> Site:
        self._count += 1
        installation = await installations.register_installation(
            self.router,
            owner.sign(
                {
                    "action": "installation.register",
                    "organisation": owner.id,
                    "name": f"Works {self._count}",
                    "country": country,
                    "un_locode": LOCODES[country],
                    "production_routes": ["BF-BOF"],
                }
            ),
        )
        line = await installations.register_product_line(
            self.router,
            owner.sign(
                {
                    "action": "product_line.register",
                    "organisation": owner.id,
                    "installation": installation.id,
                    "name": f"Line {self._count}",
                    "cn_codes": list(cn_codes),
                }
            ),
        )
        return Site(owner, installation, line)

    def record(self, site: Site, cn_code: str = STEEL, **changes: Any) -> dict[str, Any]:
        country = site.installation.country
        return base(
            cn_code,
            manufacturerId=site.owner.id,
            installationId=site.installation.id,
            productLineId=site.line.id,
            countryCode=country,
            unLoCode=LOCODES[country],
            **changes,
        )

    async def publish(self, site: Site, document: dict[str, Any]) -> Published:
        signed = site.owner.sign(document)
        return await publishing.publish(
            self.router, signed.payload, signed.signature, signed.key_id
        )


async def entries(router: ShardRouter, region: str) -> list[Statement]:
    """Every statement of a region's log, read from its database."""
    async with router.shard(region).engine.connect() as conn:
        rows = (
            await conn.execute(sa.text("SELECT data FROM ledger_entry_bundles ORDER BY idx"))
        ).all()
    return [Statement.parse(e) for row in rows for e in bundles.decode(row.data)]


async def count(router: ShardRouter, region: str, table: str) -> int:
    async with router.shard(region).engine.connect() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())
