"""A supply chain for RPC tests, built through the vault's own API: a manufacturer in Türkiye with an
installation and product line, a verifier, signed records that the verifier attests, and a grant from
the manufacturer to the importer.

Emission figures are TEST INPUTS, not regulatory figures; the CN code 72081000 is an Annex I code
(shared/reference/cbam_facts.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cbamhub.vault import grants, installations, lifecycle, publishing
from cbamhub.vault.installations import Installation, ProductLine
from cbamhub.vault.shards import ShardRouter
from rpc_world import Member, register

STEEL = "72081000"
Q1_2026 = ("2026-01-01T00:00:00Z", "2026-03-31T23:59:59Z")


@dataclass
class Supply:
    router: ShardRouter
    manufacturer: Member
    verifier: Member
    installation: Installation
    line: ProductLine

    def record(self, see_direct: float = 1.92, **changes: Any) -> dict[str, Any]:
        document: dict[str, Any] = {
            "manufacturerId": self.manufacturer.organisation_id,
            "operatorCbamId": "OPR-TEST-0001",
            "installationCbamId": "INST-TEST-0001",
            "installationId": self.installation.id,
            "productLineId": self.line.id,
            "countryCode": "TR",
            "unLoCode": "TR IST",
            "cnCode": STEEL,
            "productionMethod": {"methodId": "P24"},
            "activityData": {
                "referencePeriodStart": Q1_2026[0],
                "referencePeriodEnd": Q1_2026[1],
                "netMass": 1000.0,
            },
            "directEmissions": {"specificEmbeddedEmissionsDirect": see_direct},
            "methodology": "calculationBased",
            "dataQualityTier": "measured",
        }
        document.update(changes)
        return document

    async def publish(self, document: dict[str, Any], *, verify: bool = True) -> str:
        signed = self.manufacturer.key.sign_document(document)
        published = await publishing.publish(
            self.router, signed.payload, signed.signature, signed.key_id
        )
        if verify:
            await self.verify(published.record_id)
        return published.record_id

    async def verify(self, record_id: str) -> None:
        request = {
            "action": "record.request_verification",
            "record": record_id,
            "verifier": self.verifier.organisation_id,
        }
        await lifecycle.request_verification(
            self.router, self.manufacturer.key.sign_document(request)
        )
        attestation = {
            "action": "record.attest",
            "record": record_id,
            "verifier": self.verifier.organisation_id,
            "opinion": "reasonable assurance",
        }
        await lifecycle.attest(self.router, self.verifier.key.sign_document(attestation))

    async def grant(self, importer: Member, **terms: Any) -> str:
        now = datetime.now(UTC)
        document = {
            "action": "grant.create",
            "manufacturer": self.manufacturer.organisation_id,
            "importer": importer.organisation_id,
            "product_line": self.line.id,
            "purpose": "CBAM declaration and customs checks",
            "valid_from": (now - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
            "valid_until": (now + timedelta(days=30)).isoformat().replace("+00:00", "Z"),
            **terms,
        }
        grant = await grants.grant_access(
            self.router, self.manufacturer.key.sign_document(document)
        )
        return grant.id

    async def revoke(self, grant_id: str) -> None:
        document = {"action": "grant.revoke", "grant": grant_id, "reason": "test"}
        await grants.revoke_grant(self.router, self.manufacturer.key.sign_document(document))


async def supply_chain(router: ShardRouter, manufacturer: Member) -> Supply:
    verifier = await register(router, "verifier", "DE", None, "Verif")
    sign = manufacturer.key.sign_document
    installation = await installations.register_installation(
        router,
        sign(
            {
                "action": "installation.register",
                "organisation": manufacturer.organisation_id,
                "name": "Istanbul works",
                "country": "TR",
                "un_locode": "TR IST",
                "production_routes": ["BF-BOF"],
            }
        ),
    )
    line = await installations.register_product_line(
        router,
        sign(
            {
                "action": "product_line.register",
                "organisation": manufacturer.organisation_id,
                "installation": installation.id,
                "name": "Hot-rolled coil",
                "cn_codes": [STEEL],
            }
        ),
    )
    return Supply(router, manufacturer, verifier, installation, line)
