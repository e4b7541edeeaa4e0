"""Identities on SQLite and PostgreSQL: organisations with EORI and keys with validity periods, key
rotation and revocation authorised by the organisation, installations and product lines in their home
shard, every event in the home region's log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cbamhub.ledger.statements import Statement, StatementKind
from cbamhub.vault import identities, installations, publishing
from cbamhub.vault.errors import BadInput, InvalidSignature, UnknownKey
from cbamhub.vault.identities import Forbidden
from cbamhub.vault.models import OrganisationIn
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey, SignedDocument
from pydantic import ValidationError
from vault_samples import steel
from vault_world import Org, World

from cbamhub.settings import Settings


@pytest.fixture
async def router(region_urls: dict[str, str], tmp_path: Path) -> AsyncIterator[ShardRouter]:
    settings = Settings(
        data_dir=tmp_path,
        regions=region_urls,
        country_regions={"DE": "eu", "FR": "eu", "CN": "cn"},
        default_region="row",
        create_missing_keys=True,
    )
    opened = await ShardRouter.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


async def _entries(router: ShardRouter, region: str) -> list[Statement]:
    log = router.shard(region).log
    async with log.engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT data FROM ledger_entry_bundles"))).all()
    statements: list[Statement] = []
    from cbamhub.ledger import bundles

    for row in rows:
        statements.extend(Statement.parse(e) for e in bundles.decode(row.data))
    return statements


async def _count(router: ShardRouter, region: str, table: str) -> int:
    async with router.shard(region).engine.connect() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def _manufacturer(router: ShardRouter, country: str = "CN") -> tuple[str, OrganisationKey]:
    key = OrganisationKey.generate()
    doc = {
        "action": "organisation.register",
        "role": "manufacturer",
        "legal_name": "Test Steel",
        "country": country,
        "public_key": key.public_key.hex(),
    }
    return await identities.register_organisation_signed(router, key.sign_document(doc)), key


def _add(org: str, new: OrganisationKey, **extra: Any) -> dict[str, Any]:
    return {"action": "key.add", "organisation": org, "public_key": new.public_key.hex(), **extra}


def _pop(new: OrganisationKey, document: dict[str, Any]) -> bytes:
    """The new key's proof of possession: its own signature over the same document."""
    return new.sign_document(document).signature


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def test_registration_is_in_the_home_shard_and_its_log(router: ShardRouter) -> None:
    org, key = await _manufacturer(router, "CN")
    assert org.startswith("org_cn_")
    assert await _count(router, "cn", "organisations") == 1
    assert await _count(router, "eu", "organisations") == 0
    kinds = [(s.kind, dict(s.subject)) for s in await _entries(router, "cn")]
    assert kinds == [
        (StatementKind.ORGANISATION_REGISTERED, {"organisation": org, "key": key.key_id})
    ]
    found = await identities.get_organisation(router, org)
    assert [k.key_id for k in found.keys] == [key.key_id]


async def test_registration_must_be_signed_by_its_own_key(router: ShardRouter) -> None:
    key, other = OrganisationKey.generate(), OrganisationKey.generate()
    doc = {
        "action": "organisation.register",
        "role": "manufacturer",
        "legal_name": "X",
        "country": "DE",
        "public_key": key.public_key.hex(),
    }
    with pytest.raises(UnknownKey):
        await identities.register_organisation_signed(router, other.sign_document(doc))
    forged = SignedDocument(key.sign_document(doc).payload, b"\0" * 64, key.key_id)
    with pytest.raises(InvalidSignature):
        await identities.register_organisation_signed(router, forged)
    assert await _count(router, "eu", "organisations") == 0


def test_eori_is_required_for_importers_and_validated() -> None:
    ok = OrganisationIn(role="importer", legal_name="I", country="DE", eori="de 123456789012345")
    assert ok.eori == "DE123456789012345"
    with pytest.raises(ValidationError, match="needs an EORI"):
        OrganisationIn(role="importer", legal_name="I", country="DE")
    for bad in ("D1234", "DE1234567890123456", "12ABC", "DE-123"):
        with pytest.raises(ValidationError, match="eori"):
            OrganisationIn(role="importer", legal_name="I", country="DE", eori=bad)
    assert OrganisationIn(role="manufacturer", legal_name="M", country="TR").eori is None


async def test_rotation_keeps_old_signatures_verifiable(router: ShardRouter) -> None:
    org, old = await _manufacturer(router, "TR")
    site = await World(router).site(Org(org, old, "manufacturer"), "TR", ("72085120",))
    record = {
        **steel(),
        "manufacturerId": org,
        "installationId": site.installation.id,
        "productLineId": site.line.id,
        "countryCode": "TR",
        "unLoCode": "TR IST",
    }
    before = old.sign_document(record)
    await publishing.publish(router, before.payload, before.signature, before.key_id)
    signed_at = datetime.now(UTC)

    new = OrganisationKey.generate()
    rotate_at = signed_at + timedelta(seconds=5)
    backdated = _add(org, new, valid_from=_iso(signed_at - timedelta(seconds=1)))
    with pytest.raises(BadInput, match="valid before"):
        await identities.add_key(router, old.sign_document(backdated), _pop(new, backdated))
    rotation = _add(org, new, valid_from=_iso(rotate_at), ends_key=old.key_id)
    added = await identities.add_key(router, old.sign_document(rotation), _pop(new, rotation))
    assert added.valid_from == rotate_at

    await identities.verify_signed(router, org, before, at=signed_at)  # still verifiable
    later = rotate_at + timedelta(seconds=1)
    with pytest.raises(UnknownKey):
        await identities.verify_signed(router, org, before, at=later)
    with pytest.raises(UnknownKey):  # the new key signs nothing dated before its validity
        await identities.verify_signed(router, org, new.sign_document(record), at=signed_at)
    await identities.verify_signed(router, org, new.sign_document(record), at=later)

    kinds = [s.kind for s in await _entries(router, "row")]
    assert kinds.count(StatementKind.KEY_ADDED) == 1


async def test_revoked_keys_sign_nothing_new(router: ShardRouter) -> None:
    org, first = await _manufacturer(router, "CN")
    second = OrganisationKey.generate()
    addition = _add(org, second)
    await identities.add_key(router, first.sign_document(addition), _pop(second, addition))
    doc = {**steel(), "manufacturerId": org}
    early = second.sign_document(doc)
    signed_at = datetime.now(UTC)
    revocation = {"action": "key.revoke", "organisation": org, "key_id": second.key_id}
    with pytest.raises(Forbidden):  # not by itself
        await identities.revoke_key(router, second.sign_document(revocation))
    await identities.revoke_key(router, first.sign_document(revocation))

    await identities.verify_signed(router, org, early, at=signed_at)
    with pytest.raises(UnknownKey):
        await identities.verify_signed(router, org, second.sign_document(doc))
    late = second.sign_document({**doc, "installationId": "inst_other"})
    with pytest.raises(UnknownKey):
        await publishing.publish(router, late.payload, late.signature, late.key_id)
    kinds = [s.kind for s in await _entries(router, "cn")]
    assert kinds == [
        StatementKind.ORGANISATION_REGISTERED,
        StatementKind.KEY_ADDED,
        StatementKind.KEY_REVOKED,
    ]


async def test_unauthorised_key_changes_are_refused_and_write_nothing(router: ShardRouter) -> None:
    org, key = await _manufacturer(router, "DE")
    stranger, new = OrganisationKey.generate(), OrganisationKey.generate()
    proof = _pop(new, _add(org, new))
    entries_before = len(await _entries(router, "eu"))
    with pytest.raises(UnknownKey):
        await identities.add_key(router, stranger.sign_document(_add(org, new)), proof)
    good = key.sign_document(_add(org, new))
    with pytest.raises(InvalidSignature):
        await identities.add_key(
            router, SignedDocument(good.payload, b"\1" * 64, key.key_id), proof
        )
    other_org, other_key = await _manufacturer(router, "DE")
    with pytest.raises(UnknownKey):  # another organisation's valid key
        await identities.add_key(router, other_key.sign_document(_add(org, new)), proof)
    revoke = {"action": "key.revoke", "organisation": org, "key_id": key.key_id}
    with pytest.raises(UnknownKey):
        await identities.revoke_key(router, stranger.sign_document(revoke))
    assert await _count(router, "eu", "organisation_keys") == 2  # org's and other_org's first keys
    assert len(await _entries(router, "eu")) == entries_before + 1  # other_org's registration
    assert other_org != org


async def test_a_key_addition_needs_the_new_keys_proof_of_possession(router: ShardRouter) -> None:
    org, key = await _manufacturer(router, "DE")
    new, someone = OrganisationKey.generate(), OrganisationKey.generate()
    addition = _add(org, new)
    signed = key.sign_document(addition)
    entries_before = len(await _entries(router, "eu"))
    with pytest.raises(BadInput, match="proof of possession") as missing:
        await identities.add_key(router, signed, None)
    assert missing.value.details["problems"] == [
        {"field": "proofOfPossession", "reason": "missing"}
    ]
    with pytest.raises(BadInput, match="proof of possession"):
        await identities.add_key(router, signed, b"")
    with pytest.raises(InvalidSignature, match="new key"):  # signed by a key other than the new
        await identities.add_key(router, signed, _pop(someone, addition))
    with pytest.raises(InvalidSignature, match="new key"):  # the new key, another document
        await identities.add_key(router, signed, _pop(new, _add(org, new, ends_key=key.key_id)))
    with pytest.raises(InvalidSignature, match="new key"):  # the authorising signature again
        await identities.add_key(router, signed, signed.signature)
    assert await _count(router, "eu", "organisation_keys") == 1
    assert len(await _entries(router, "eu")) == entries_before

    added = await identities.add_key(router, signed, _pop(new, addition))
    assert added.key_id == new.key_id
    found = await identities.get_organisation(router, org)
    assert [k.key_id for k in found.keys] == [key.key_id, new.key_id]
    kinds = [s.kind for s in await _entries(router, "eu")]
    assert kinds == [StatementKind.ORGANISATION_REGISTERED, StatementKind.KEY_ADDED]


async def test_installation_country_decides_its_region(router: ShardRouter) -> None:
    org, key = await _manufacturer(router, "TR")
    doc = {
        "action": "installation.register",
        "organisation": org,
        "name": "Shanghai works",
        "country": "CN",
        "un_locode": "CN SHA",
        "production_routes": ["P24"],
    }
    ins = await installations.register_installation(router, key.sign_document(doc))
    assert ins.id.startswith("ins_cn_") and ins.region == "cn" and ins.un_locode == "CNSHA"
    again = await installations.register_installation(router, key.sign_document(doc))
    assert again.id == ins.id  # a replay creates nothing
    assert await _count(router, "cn", "installations") == 1
    assert await _count(router, "row", "installations") == 0
    assert [s.kind for s in await _entries(router, "cn")] == [StatementKind.INSTALLATION_REGISTERED]

    line = {
        "action": "product_line.register",
        "organisation": org,
        "installation": ins.id,
        "name": "Hot-rolled coil",
        "cn_codes": ["7208 10 00", "72083900"],
    }
    pl = await installations.register_product_line(router, key.sign_document(line))
    assert pl.id.startswith("pl_cn_") and pl.cn_codes == ("72081000", "72083900")
    found = await installations.get_installation(router, ins.id)
    assert [p.id for p in found.product_lines] == [pl.id]
    assert found.production_routes == ("P24",)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"un_locode": "DEHAM"}, "not in the country CN"),
        ({"un_locode": "CN1A"}, "un_locode"),
        ({"un_locode": None}, "UN/LOCODE or coordinates"),
        ({"un_locode": None, "latitude": 91.0, "longitude": 10.0}, "latitude"),
        ({"un_locode": None, "latitude": 31.2, "longitude": -181.0}, "longitude"),
        ({"un_locode": None, "latitude": 31.2}, "come together"),
    ],
)
async def test_installation_locations_are_checked(
    router: ShardRouter, changes: dict[str, Any], reason: str
) -> None:
    org, key = await _manufacturer(router, "CN")
    doc = {
        "action": "installation.register",
        "organisation": org,
        "name": "W",
        "country": "CN",
        "un_locode": "CNSHA",
        **changes,
    }
    doc = {k: v for k, v in doc.items() if v is not None}
    with pytest.raises(BadInput, match=reason):
        await installations.register_installation(router, key.sign_document(doc))
    assert await _count(router, "cn", "installations") == 0


async def test_cn_codes_outside_annex_i_are_refused_by_name(router: ShardRouter) -> None:
    org, key = await _manufacturer(router, "DE")
    ins = await installations.register_installation(
        router,
        key.sign_document(
            {
                "action": "installation.register",
                "organisation": org,
                "name": "W",
                "country": "DE",
                "latitude": 53.5,
                "longitude": 10.0,
            }
        ),
    )
    line = {
        "action": "product_line.register",
        "organisation": org,
        "installation": ins.id,
        "name": "Mixed",
        "cn_codes": ["72081000", "12345678"],
    }
    with pytest.raises(BadInput, match="12345678") as raised:
        await installations.register_product_line(router, key.sign_document(line))
    assert raised.value.details["problems"][0]["field"] == "cn_codes.1"
    assert await _count(router, "eu", "product_lines") == 0


async def test_only_manufacturers_register_installations(router: ShardRouter) -> None:
    key = OrganisationKey.generate()
    importer = await identities.register_organisation(
        router,
        OrganisationIn(role="importer", legal_name="Imp", country="DE", eori="DE1234567"),
        key.public_key,
    )
    doc = {
        "action": "installation.register",
        "organisation": importer,
        "name": "W",
        "country": "DE",
        "un_locode": "DEHAM",
    }
    with pytest.raises(Forbidden):
        await installations.register_installation(router, key.sign_document(doc))
