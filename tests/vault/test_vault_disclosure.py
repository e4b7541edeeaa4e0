"""Per-field commitments through the vault, on SQLite and PostgreSQL (decision 0055): a published
record's entry carries the `fields` commitment of the signed payload, computed at publish time from
the stored salt; `record_disclosure` later opens any set of members of the stored record, and a
reader verifies them with the ledger alone: the disclosure against the entry, the entry against the
log's signed checkpoint."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from cbamhub.ledger.checkpoint import verify_checkpoint
from cbamhub.ledger.disclosure import DisclosureError, SelectiveDisclosure, verify_disclosure
from cbamhub.ledger.evidence import verify_evidence
from cbamhub.ledger.statements import Statement, StatementKind
from cbamhub.ledger.verify import leaf_hash, verify_inclusion
from cbamhub.vault import lifecycle, publishing
from cbamhub.vault.disclosure import record_disclosure
from cbamhub.vault.reading import record_with_proof
from cbamhub.vault.shards import load_log_signer
from vault_world import Site, World, entries

CUSTOMS_VIEW = {"cnCode", "directEmissions", "indirectEmissions", "dataQualityTier", "methodology"}


def _verified_members(disclosure: SelectiveDisclosure, entry: bytes) -> dict[str, Any]:
    return dict(verify_disclosure(disclosure, entry).disclosed)


async def _site(world: World) -> Site:
    return await world.site(await world.org("manufacturer", "CN"), "CN")


async def test_a_published_record_opens_field_by_field(world: World) -> None:
    site = await _site(world)
    document = world.record(
        site,
        # a quantity with its unit and a non-ASCII text: the payload's bytes are committed as signed
        directEmissions={
            "specificEmbeddedEmissionsDirect": {"value": 1920, "unit": "kg co2eq / t"},
            "additionalInformation": "Hochofen ü → 😀",
        },
    )
    published = await world.publish(site, document)
    stored = await record_with_proof(world.router, published.record_id)
    statement = Statement.parse(stored.evidence.entry)
    assert statement.kind == StatementKind.RECORD_PUBLISHED and statement.fields is not None
    # the full reader's check covers both commitments
    vkey = load_log_signer(world.router.settings, "cn").vkey()
    verify_evidence(stored.evidence, vkey)

    disclosure = record_disclosure(stored, CUSTOMS_VIEW)
    assert disclosure is not None
    members = _verified_members(disclosure, stored.evidence.entry)
    assert members == {n: document[n] for n in CUSTOMS_VIEW if n in document}
    assert "indirectEmissions" not in members  # not in the document: neither opened nor listed
    assert set(disclosure.withheld) == set(document) - CUSTOMS_VIEW
    assert "activityData" in disclosure.withheld
    # the entry is the one in the log: its inclusion under the checkpoint the log signed
    signed = verify_checkpoint(stored.evidence.checkpoint, vkey)
    verify_inclusion(
        stored.evidence.leaf_index,
        signed.checkpoint.size,
        leaf_hash(stored.evidence.entry),
        stored.evidence.proof,
        signed.checkpoint.root,
    )
    # the salt the hub stores derives every field salt; no disclosure carries it
    assert all(f.salt != stored.evidence.salt for f in disclosure.disclosed.values())
    # any other view of the same record opens too; another record's entry does not
    location = record_disclosure(stored, {"countryCode"})
    assert location is not None
    assert _verified_members(location, stored.evidence.entry) == {"countryCode": "CN"}
    other = await world.publish(site, world.record(site, dataQualityTier="estimated"))
    other_entry = (await record_with_proof(world.router, other.record_id)).evidence.entry
    with pytest.raises(DisclosureError, match="do not open"):
        verify_disclosure(disclosure, other_entry)


async def test_a_batch_commits_each_records_fields_and_other_entries_stay_version_1(
    world: World,
) -> None:
    site = await _site(world)
    verifier = await world.org("verifier", "DE")
    signed = [
        site.owner.sign(world.record(site, dataQualityTier=t)) for t in ("measured", "estimated")
    ]
    batch = await publishing.publish_batch(
        world.router,
        [publishing.Submission(s.payload, s.signature, s.key_id) for s in signed],
    )
    for published in batch:
        stored = await record_with_proof(world.router, published.record_id)
        disclosure = record_disclosure(stored, {"dataQualityTier"})
        assert disclosure is not None
        assert _verified_members(disclosure, stored.evidence.entry) == {
            "dataQualityTier": stored.document["dataQualityTier"]
        }
    # a lifecycle event's entry is unchanged: version 1, no fields commitment
    record_id = batch[0].record_id
    await lifecycle.request_verification(
        world.router,
        site.owner.sign(
            {"action": "record.request_verification", "record": record_id, "verifier": verifier.id}
        ),
    )
    logged = await entries(world.router, "cn")
    published_kinds = [s for s in logged if s.kind == StatementKind.RECORD_PUBLISHED]
    others = [s for s in logged if s.kind != StatementKind.RECORD_PUBLISHED]
    assert len(published_kinds) == 2 and all(s.fields is not None for s in published_kinds)
    assert others and all(s.fields is None and b'"v":1' in s.to_bytes() for s in others)
    assert StatementKind.VERIFICATION_REQUESTED in {s.kind for s in others}


async def test_a_record_published_before_per_field_commitments_has_no_disclosure(
    world: World,
) -> None:
    """An entry written before decision 0055 (version 1): the vault says so (None), and the masked
    reader can only be shown the entry's inclusion, as before."""
    site = await _site(world)
    published = await world.publish(site, world.record(site))
    stored = await record_with_proof(world.router, published.record_id)
    old = Statement.parse(stored.evidence.entry)
    v1_entry = Statement(old.kind, old.subject, old.time, old.signer, old.commitment).to_bytes()
    legacy = replace(stored, evidence=replace(stored.evidence, entry=v1_entry))
    assert record_disclosure(legacy, {"cnCode"}) is None
    assert record_disclosure(stored, {"cnCode"}) is not None
