"""GraphQL types of the hub's schema."""

from __future__ import annotations

import base64
import json
from typing import NewType

import strawberry
from cbamhub.ledger.checkpoint import SignedCheckpoint
from cbamhub.vault.disclosure import record_disclosure
from cbamhub.vault.reading import StoredRecord

from cbamhub.access import visible_members

Long = NewType("Long", int)
LONG_SCALAR = strawberry.scalar(
    name="Long",
    description="A 64-bit integer (tree sizes and leaf indices outgrow GraphQL's 32-bit Int).",
    serialize=int,
    parse_value=int,
)


@strawberry.input(description="A record signed by its manufacturer on its own side.")
class SignedRecordInput:
    payload: str = strawberry.field(description="The record as RFC 8785 canonical JSON text.")
    signature: str = strawberry.field(description="Base64 Ed25519 signature over the payload.")
    key_id: str = strawberry.field(description="Id of the manufacturer's registered key.")


@strawberry.type(description="Where a published record landed in its region's log.")
class PublishedRecord:
    record_id: strawberry.ID
    region: str
    leaf_index: Long
    tree_size: Long
    checkpoint: str = strawberry.field(description="The log-signed checkpoint (C2SP signed note).")
    replayed: bool = strawberry.field(
        default=False, description="Already published before: this is the existing record."
    )


@strawberry.type(description="Proof that a record's ledger entry is in the region's log.")
class InclusionProof:
    leaf_index: Long
    tree_size: Long
    hashes: list[str] = strawberry.field(description="Base64 RFC 9162 audit path, leaf upwards.")
    entry: str = strawberry.field(
        description="The public ledger entry (a canonical JSON statement)."
    )
    salt: str | None = strawberry.field(
        description="Base64 salt of the entry's commitment to the record; null unless every field "
        "is visible to the reader."
    )
    checkpoint: str
    final: bool = strawberry.field(description="Whether the checkpoint is witness-cosigned.")


POLICY_FIELD = {
    "operator_cbam_id": "operator_cbam_id",
    "installation_cbam_id": "installation_cbam_id",
    "country_code": "country_code",
    "production_method": "production_method",
    "methodology": "methodology",
    "data_quality_tier": "data_quality_tier",
    "see_direct": "direct_emissions",
    "see_indirect": "indirect_emissions",
}
"""GraphQL fields that a decision may withhold, by the policy's name for them (policies/fields.rego).
Ids, CN code, region, reporting period and the inclusion proof are always shown to an allowed reader."""


@strawberry.federation.type(
    keys=["id"],
    description="A supplier's emissions record (Catena-X CBAM KIT field names). Fields the reader's "
    "grant or the record region's export rules withhold are null and absent from visibleFields; the "
    "signed document, its salt and the evidence bundle come only with every field (they would "
    "reveal, or let a reader confirm guesses of, the withheld ones).",
)
class Record:
    id: strawberry.ID
    region: str
    status: str | None
    manufacturer_id: str | None
    installation_id: str
    product_line_id: str | None
    cn_code: str
    period_start: str
    period_end: str
    operator_cbam_id: str | None
    installation_cbam_id: str | None
    country_code: str | None
    production_method: str | None
    methodology: str | None
    data_quality_tier: str | None
    see_direct: float | None = strawberry.field(
        description="Direct specific embedded emissions, tCO2e/t."
    )
    see_indirect: float | None = strawberry.field(
        description="Indirect specific embedded emissions, tCO2e/t; null when not reported."
    )
    visible_fields: list[str] | None = strawberry.field(
        description="The policy's names of the fields this reader sees; null = every field."
    )
    stored: strawberry.Private[StoredRecord | None] = None
    """Source of the full-view fields below, kept only when every field is visible; they are
    serialised only if the query asks for them (JSON of the document and evidence costs time)."""
    masked: strawberry.Private[tuple[StoredRecord, frozenset[str]] | None] = None
    """For a masked record: its source and the policy fields shown, for `disclosure`."""
    key_id: str
    signature: str | None
    inclusion_proof: InclusionProof

    @classmethod
    def from_stored(
        cls,
        stored: StoredRecord,
        fields: frozenset[str] | None = None,
        status: str | None = None,
    ) -> Record:
        """The record as a reader allowed `fields` (None = every field) sees it."""
        record, ev = stored.record, stored.evidence
        indirect = record.indirect_emissions
        full = fields is None

        def shown(name: str) -> bool:
            return full or POLICY_FIELD[name] in (fields or ())

        return cls(
            id=strawberry.ID(stored.record_id),
            region=stored.region,
            status=status,
            manufacturer_id=record.manufacturer_id,
            installation_id=record.installation_id or record.installation_cbam_id,
            product_line_id=record.product_line_id,
            cn_code=record.cn_code,
            period_start=record.activity_data.reference_period_start.isoformat(),
            period_end=record.activity_data.reference_period_end.isoformat(),
            operator_cbam_id=record.operator_cbam_id if shown("operator_cbam_id") else None,
            installation_cbam_id=record.installation_cbam_id
            if shown("installation_cbam_id")
            else None,
            country_code=record.country_code if shown("country_code") else None,
            production_method=record.production_method.method_id
            if shown("production_method")
            else None,
            methodology=str(record.methodology.value) if shown("methodology") else None,
            data_quality_tier=str(record.data_quality_tier.value)
            if shown("data_quality_tier")
            else None,
            see_direct=float(record.direct_emissions.specific_embedded_emissions_direct)
            if shown("see_direct")
            else None,
            see_indirect=None
            if indirect is None or not shown("see_indirect")
            else float(indirect.specific_embedded_emissions_indirect),
            visible_fields=None if fields is None else sorted(fields),
            key_id=stored.key_id,
            signature=base64.b64encode(stored.signature).decode() if full else None,
            inclusion_proof=InclusionProof(
                leaf_index=Long(ev.leaf_index),
                tree_size=Long(ev.tree_size),
                hashes=[base64.b64encode(h).decode() for h in ev.proof],
                entry=ev.entry.decode(),
                salt=base64.b64encode(ev.salt).decode() if full else None,
                checkpoint=ev.checkpoint,
                final=stored.final,
            ),
            stored=stored if full else None,
            masked=None if fields is None else (stored, fields),
        )

    @strawberry.field(description="The record as signed, JSON (KIT field names).")
    def document(self) -> str | None:
        return None if self.stored is None else json.dumps(self.stored.document, sort_keys=True)

    @strawberry.field(
        description="JSON evidence bundle for offline checking with `cbamhub verify`."
    )
    def evidence(self) -> str | None:
        if self.stored is None:
            return None
        return json.dumps(self.stored.evidence.to_json(), sort_keys=True)

    @strawberry.field(
        description="For a masked record: the members you may see (KIT names) opened with their "
        "field salts, and the digests of the others, as JSON; check it against "
        "`inclusionProof.entry` with `cbamhub.ledger.verify_disclosure` (decision 0055). Null "
        "when you see every field (use `evidence`) or the record predates per-field commitments."
    )
    def disclosure(self) -> str | None:
        if self.masked is None:
            return None
        stored, fields = self.masked
        disclosure = record_disclosure(stored, visible_members(stored.document, fields))
        return None if disclosure is None else json.dumps(disclosure.to_json(), sort_keys=True)


@strawberry.type(description="A signed checkpoint of one region's log.")
class Checkpoint:
    region: str
    origin: str
    size: Long
    root_hash: str
    note: str
    final: bool

    @classmethod
    def from_note(cls, region: str, note: str, final: bool) -> Checkpoint:
        checkpoint = SignedCheckpoint.parse(note).checkpoint
        return cls(
            region=region,
            origin=checkpoint.origin,
            size=Long(checkpoint.size),
            root_hash=base64.b64encode(checkpoint.root).decode(),
            note=note,
            final=final,
        )
