"""The embedded demo: the hub, three witnesses and sample data on one machine, nothing to install.

Witnesses are separate servers (their own ports and databases), as they would be on a regulator's or
a verification body's premises; the demo only runs them in the same process for convenience. The sample
manufacturer signs its records locally with its own key, exactly as a real one would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from cbamhub.ledger.cosign import BlsSigner
from cbamhub.ledger.witness.app import WitnessConfig, create_witness_app
from cbamhub.settings import Settings, WitnessSettings
from cbamhub.vault import grants, identities, installations, lifecycle, publishing
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter, load_log_signer
from cbamhub.vault.signing import OrganisationKey

logger = logging.getLogger(__name__)

WITNESS_NAMES = ("witness-a.demo", "witness-b.demo", "witness-c.demo")

# Illustrative manufacturer data for the demo only: not regulatory figures.
SAMPLE_RECORDS = (
    {"installation_id": "TR-IST-001", "country": "TR", "cn_code": "72081000",
     "period": "2026-Q1", "see_direct": 1.92, "see_indirect": 0.31},
    {"installation_id": "TR-IST-001", "country": "TR", "cn_code": "72139110",
     "period": "2026-Q1", "see_direct": 1.88, "see_indirect": 0.29},
    {"installation_id": "CN-SHA-007", "country": "CN", "cn_code": "76011000",
     "period": "2026-Q1", "see_direct": 1.65, "see_indirect": 9.80},
    {"installation_id": "DE-DUI-002", "country": "DE", "cn_code": "72081000",
     "period": "2026-Q1", "see_direct": 1.41, "see_indirect": 0.22},
)  # fmt: skip

_QUARTERS = {"Q1": ("01-01", "03-31"), "Q2": ("04-01", "06-30"), "Q3": ("07-01", "09-30"),
             "Q4": ("10-01", "12-31")}  # fmt: skip


def sample_record(
    manufacturer_id: str,
    installation_id: str,
    country: str,
    cn_code: str,
    period: str,
    see_direct: Any,
    see_indirect: Any = None,
    product_line_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A record document in the Catena-X CBAM KIT shape from a few figures (`period`: 2026 or
    2026-Q1). Indirect emissions, when given, come with the electricity and factor that make them."""
    year, _, quarter = period.partition("-")
    start, end = _QUARTERS.get(quarter, ("01-01", "12-31"))
    document: dict[str, Any] = {
        "manufacturerId": manufacturer_id,
        "operatorCbamId": f"OPR-{manufacturer_id}"[:80],
        "installationCbamId": f"INST-{installation_id}"[:80],
        "installationId": installation_id,
        "countryCode": country,
        # "TR-IST-001" sits at UN/LOCODE "TR IST"; other ids get a placeholder location code.
        "unLoCode": f"{country} {installation_id[3:6]}"
        if re.match(rf"^{country}-[A-Z2-9]{{3}}", installation_id)
        else _SAMPLE_LOCODES.get(country, f"{country} 999"),
        "cnCode": cn_code,
        **({"productLineId": product_line_id} if product_line_id else {}),
        "productionMethod": {"methodId": "P24"},
        "activityData": {
            "referencePeriodStart": f"{year}-{start}T00:00:00Z",
            "referencePeriodEnd": f"{year}-{end}T23:59:59Z",
            "netMass": 1000.0,
        },
        "directEmissions": {"specificEmbeddedEmissionsDirect": see_direct},
        "methodology": "calculationBased",
        "dataQualityTier": "measured",
        **extra,
    }
    if see_indirect is not None:
        factor = 0.5
        document["indirectEmissions"] = {
            "specificEmbeddedEmissionsIndirect": see_indirect,
            "emissionFactorTonnesCo2PerMwh": factor,
            "sourceOfEmissionFactorValue": "demo: the installation's supplier contract",
            "electricityConsumedMwhPerTonnesGood": see_indirect / factor
            if isinstance(see_indirect, int | float)
            else see_indirect,
        }
    return document


@dataclass(frozen=True)
class DemoWitness:
    config: WitnessConfig
    port: int


def _secret_file(path: Path, make: Any) -> dict[str, str]:
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    value: dict[str, str] = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle)
    return value


def demo_settings(data_dir: Path, host: str, port: int) -> tuple[Settings, list[DemoWitness]]:
    """Settings of the demo hub and its witnesses, with keys created on first run."""
    token_secret = _secret_file(
        data_dir / "token-secret.json", lambda: {"hex": os.urandom(32).hex()}
    )
    base = Settings(
        data_dir=data_dir,
        create_missing_keys=True,
        host=host,
        port=port,
        auth_token_secret=token_secret["hex"],
        auth_token_ttl_seconds=12 * 3600,
    )
    logs = {base.log_origin(r): load_log_signer(base, r).vkey() for r in base.region_urls()}
    witnesses: list[DemoWitness] = []
    for offset, name in enumerate(WITNESS_NAMES, start=1):
        secrets_ = _secret_file(
            data_dir / "witnesses" / f"{name}.json",
            lambda: {
                "ed25519": os.urandom(32).hex(),
                "bls": BlsSigner.generate("x").secret_key.hex(),
            },
        )
        config = WitnessConfig(
            name=name,
            ed25519_seed=bytes.fromhex(secrets_["ed25519"]),
            bls_secret=bytes.fromhex(secrets_["bls"]),
            logs=logs,
            database_url=f"sqlite+aiosqlite:///{data_dir / 'witnesses' / f'{name}.db'}",
        )
        witnesses.append(DemoWitness(config, port + offset))
    settings = base.with_overrides(
        witnesses=[
            WitnessSettings(
                name=w.config.name,
                url=f"http://{host}:{w.port}",
                bls_public_key=w.config.bls_public_key().key.hex(),
                bls_proof_of_possession=w.config.bls_public_key().proof.hex(),
                cosignature_vkey=w.config.cosignature_vkey(),
            )
            for w in witnesses
        ],
        witness_threshold=2,
    )
    return settings, witnesses


_SAMPLE_LOCODES = {"TR": "TR IST", "CN": "CN SHA", "DE": "DE DUI"}


async def register_sample_site(
    router: ShardRouter,
    organisation_id: str,
    key: OrganisationKey,
    country: str,
    cn_codes: list[str],
    name: str = "Sample works",
) -> tuple[str, str]:
    """Register an installation in `country` with one product line of `cn_codes`, signed by the
    manufacturer's `key`; returns (installation id, product line id) for records to name."""
    installation = await installations.register_installation(
        router,
        key.sign_document(
            {
                "action": "installation.register",
                "organisation": organisation_id,
                "name": name,
                "country": country,
                "un_locode": _SAMPLE_LOCODES.get(country, f"{country} 999"),
                "production_routes": ["P24"],
            }
        ),
    )
    line = await installations.register_product_line(
        router,
        key.sign_document(
            {
                "action": "product_line.register",
                "organisation": organisation_id,
                "installation": installation.id,
                "name": f"{name}: products",
                "cn_codes": sorted(set(cn_codes)),
            }
        ),
    )
    return installation.id, line.id


DEMO_ROLES = {
    "manufacturer": ("Demo Steel and Aluminium Ltd", "TR", None),
    "importer": ("Demo Import GmbH", "DE", "DE123456789012"),
    "verifier": ("Demo Verification SE", "DE", None),
    "regulator": ("Demo Competent Authority", "DE", None),
}


async def seed(router: ShardRouter, data_dir: Path) -> None:
    """Register sample organisations (one per role, keys written to data_dir/demo-<role>.key), the
    manufacturer's sites and signed records, a grant to the importer on the first product line, and
    a verifier's attestation of the first record; once."""
    state_path = data_dir / "demo-state.json"
    if state_path.exists():
        return
    keys = {role: OrganisationKey.generate() for role in DEMO_ROLES}
    orgs: dict[str, str] = {}
    for role, (name, country, eori) in DEMO_ROLES.items():
        orgs[role] = await identities.register_organisation(
            router,
            OrganisationIn(role=role, legal_name=name, country=country, eori=eori),
            keys[role].public_key,
        )
    org_id, key = orgs["manufacturer"], keys["manufacturer"]
    sites: dict[str, tuple[str, str]] = {}
    for label in dict.fromkeys(str(s["installation_id"]) for s in SAMPLE_RECORDS):
        samples = [s for s in SAMPLE_RECORDS if s["installation_id"] == label]
        sites[label] = await register_sample_site(
            router,
            org_id,
            key,
            str(samples[0]["country"]),
            [str(s["cn_code"]) for s in samples],
            name=label,
        )
    published = []
    for sample in SAMPLE_RECORDS:
        installation_id, line_id = sites[str(sample["installation_id"])]
        document = sample_record(
            org_id,
            **{**sample, "installation_id": installation_id},  # type: ignore[arg-type]
            product_line_id=line_id,
        )
        signed = key.sign_document(document)
        result = await publishing.publish(router, signed.payload, signed.signature, signed.key_id)
        published.append({"record": result.record_id, "region": result.region})
    await _share_and_verify(
        router, orgs, keys, next(iter(sites.values()))[1], published[0]["record"]
    )
    for role, role_key in keys.items():
        path = data_dir / f"demo-{role}.key"
        path.write_text(role_key.to_text() + "\n")
        os.chmod(path, 0o600)
    state_path.write_text(
        json.dumps({"organisations": orgs, "manufacturer": org_id, "records": published}, indent=2)
    )
    logger.info("demo data: %s, %d records", orgs, len(published))


async def _share_and_verify(
    router: ShardRouter,
    orgs: dict[str, str],
    keys: dict[str, OrganisationKey],
    product_line_id: str,
    record_id: str,
) -> None:
    """The importer may read the first product line for a year; the verifier attests one record."""
    now = datetime.now(UTC)
    manufacturer = keys["manufacturer"]
    await grants.grant_access(
        router,
        manufacturer.sign_document(
            {
                "action": "grant.create",
                "manufacturer": orgs["manufacturer"],
                "importer": orgs["importer"],
                "product_line": product_line_id,
                "purpose": "CBAM declaration (demo)",
                "valid_from": now.isoformat(),
                "valid_until": (now + timedelta(days=365)).isoformat(),
            }
        ),
    )
    await lifecycle.request_verification(
        router,
        manufacturer.sign_document(
            {
                "action": "record.request_verification",
                "record": record_id,
                "verifier": orgs["verifier"],
            }
        ),
    )
    await lifecycle.attest(
        router,
        keys["verifier"].sign_document(
            {
                "action": "record.attest",
                "record": record_id,
                "verifier": orgs["verifier"],
                "opinion": "reasonable assurance",
            }
        ),
    )


def demo_tokens(settings: Settings, data_dir: Path) -> dict[str, str]:
    """A bearer token per demo organisation, to paste into GraphiQL's headers."""
    from cbamhub.gateway.tokens import TokenIssuer

    state = json.loads((data_dir / "demo-state.json").read_text())
    issuer = TokenIssuer(
        bytes.fromhex(settings.auth_token_secret or ""), settings.auth_token_ttl_seconds
    )
    now = int(time.time())
    tokens = {}
    for role, org in state["organisations"].items():
        key = OrganisationKey.from_text((data_dir / f"demo-{role}.key").read_text())
        tokens[role] = issuer.issue(org, key.key_id, now)[0]
    return tokens


async def run_demo(data_dir: Path, host: str, port: int) -> None:
    from cbamhub.gateway.app import create_app  # the front door depends on the core, not back

    settings, witnesses = demo_settings(data_dir, host, port)
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                create_witness_app(w.config), host=host, port=w.port, log_level="warning"
            )
        )
        for w in witnesses
    ]

    async def on_startup(router: ShardRouter) -> None:
        await seed(router, data_dir)
        print(
            "Every request is an organisation's. Demo bearer tokens (GraphiQL > Headers:",
            flush=True,
        )
        print('{"Authorization": "Bearer <token>"}), valid 12 hours; fresh ones with', flush=True)
        print(
            f"`cbamhub token --url http://{host}:{port} --organisation ORG_ID "
            f"--key {data_dir}/demo-<role>.key`:",
            flush=True,
        )
        for role, token in demo_tokens(settings, data_dir).items():
            print(f"  {role:12} {token}", flush=True)

    app = create_app(settings, debug=True, on_startup=on_startup)
    hub = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
    print(
        f"CBAM Data Hub demo on http://{host}:{port}/graphql (GraphiQL), "
        f"logs at http://{host}:{port}/log/<region>/checkpoint, "
        f"witnesses on ports {', '.join(str(w.port) for w in witnesses)}; data in {data_dir}",
        flush=True,
    )
    await asyncio.gather(*(s.serve() for s in servers), hub.serve())
