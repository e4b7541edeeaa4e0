"""The tables of one region's shard. The shard's log lives beside them (cbamhub.ledger.schema), so a
row and the ledger entry anchoring it commit in one transaction. Rows refer to other shards only by id."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

organisations = Table(
    "organisations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("legal_name", Text, nullable=False),
    Column("country", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("eori", Text),  # required for importers (vault/models.py OrganisationIn)
)

organisation_keys = Table(
    "organisation_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("organisation_id", Text, nullable=False, index=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    # End of validity set by a rotation: signatures made at or after it are refused, those made
    # before stay verifiable (vault/identities.py).
    Column("valid_until", DateTime(timezone=True)),
    Column("added_by", Text),  # key id that signed the addition; None for the first key
)

# A manufacturer's installations and product lines live in the installation's home shard (its
# country's region); they name their organisation, which may live in another shard, by id only.
installations = Table(
    "installations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("organisation_id", Text, nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("country", Text, nullable=False),
    Column("un_locode", Text),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("production_routes", Text, nullable=False),  # JSON list of route codes
    Column("request_digest", LargeBinary, nullable=False, unique=True),  # replays are idempotent
    Column("key_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

product_lines = Table(
    "product_lines",
    metadata,
    Column("id", Text, primary_key=True),
    Column("installation_id", Text, nullable=False, index=True),
    Column("organisation_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("cn_codes", Text, nullable=False),  # JSON list of 8-digit Annex I CN codes
    Column("request_digest", LargeBinary, nullable=False, unique=True),
    Column("key_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("id", Text, primary_key=True),
    # no index of its own: ix_records_scope_manufacturer starts with it (revision 0009)
    Column("manufacturer_id", Text, nullable=False),
    Column("installation_id", Text, nullable=False),
    Column("cn_code", Text, nullable=False),
    Column("period", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),  # sealed: see vault/crypto.py
    # HMAC-SHA256 of the signed payload under the region's index key: finds replays without a plain
    # hash (or the signature) that would let anyone confirm a guessed emissions figure.
    Column("replay_digest", LargeBinary, nullable=False, unique=True),
    Column("signature", LargeBinary, nullable=False),  # sealed too: it would confirm guesses
    Column("key_id", Text, nullable=False),
    Column("salt", LargeBinary, nullable=False),
    Column("leaf_index", BigInteger, nullable=False, unique=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # Revision 0003. Nullable only because records published before it lack them; the vault always
    # sets them now (vault/publishing.py checks the product line against the installation's).
    Column("product_line_id", Text),
    Column("version", Integer),  # 1, then +1 per correction
    Column("supersedes", Text),  # the record this one corrects; unique, so chains stay linear
    Column("quality_tier", Text),  # not a figure: kept plain so queries can filter on it
    # Valid time: the reporting period (recorded time is `recorded_at`).
    Column("valid_from", DateTime(timezone=True)),
    Column("valid_until", DateTime(timezone=True)),
    # Query pushdown (vault/querying.py): each grant scope is a range of one of these, and every
    # list is ordered and paged by (recorded_at, id).
    Index("ix_records_scope_line", "product_line_id", "cn_code", "recorded_at", "id"),
    Index("ix_records_scope_installation", "installation_id", "cn_code", "recorded_at", "id"),
    Index("ix_records_scope_manufacturer", "manufacturer_id", "recorded_at", "id"),
    # Revision 0007: a one-scope page walks its line's (or installation's) records in list order
    # and stops at the page's end, instead of sorting every record of a large line per page.
    Index("ix_records_line_time", "product_line_id", "recorded_at", "id"),
    Index("ix_records_installation_time", "installation_id", "recorded_at", "id"),
    Index("ix_records_recorded", "recorded_at", "id"),
    # Revision 0008: an installation's latest earlier report of a CN code (anomaly history) in one
    # seek, however long its history.
    Index("ix_records_history", "installation_id", "cn_code", "valid_from", "version"),
    UniqueConstraint("supersedes", name="uq_records_supersedes"),
)

# Signed document columns shared by the lifecycle and grant tables: the canonical bytes as signed,
# the signature, the signing key, the salt of the ledger entry's commitment and its leaf index.


def _signed_columns() -> list[Column[object]]:
    return [
        Column("key_id", Text, nullable=False),
        Column("document", LargeBinary, nullable=False),
        Column("signature", LargeBinary, nullable=False),
        Column("salt", LargeBinary, nullable=False),
        Column("leaf_index", BigInteger, nullable=False, unique=True),
    ]


# Every state change of a record after its submission (the records row itself is the submission):
# verification requested, verified, rejected, superseded. Append-only: a record's status at any
# recorded time is a fold over its events up to then (vault/lifecycle.py).
record_events = Table(
    "record_events",
    metadata,
    Column("id", Text, primary_key=True),
    Column("record_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("actor", Text, nullable=False),  # organisation id of the signer
    Column("verifier_id", Text),  # the verifier assigned, or attesting / rejecting
    Column("payload", Text, nullable=False),  # JSON: opinion, verifier, superseded_by; no figures
    Column("request_digest", LargeBinary, nullable=False, unique=True),  # replays are idempotent
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    *_signed_columns(),  # document and signature sealed: a reason may quote figures
    Index("ix_record_events_record", "record_id", "kind", "recorded_at"),
    Index("ix_record_events_verifier", "verifier_id", "kind"),
)

# Grants live in the product line's home shard. Append-only like records: a revocation is its own
# row, so the grants known at any recorded time can be reconstructed ("what did X see on D").
grants = Table(
    "grants",
    metadata,
    Column("id", Text, primary_key=True),
    Column("manufacturer_id", Text, nullable=False),
    Column("importer_id", Text, nullable=False),
    Column("product_line_id", Text, nullable=False),
    Column("installation_id", Text, nullable=False),
    Column("cn_codes", Text),  # JSON list, a subset of the line's; NULL = the whole line
    Column("fields", Text),  # JSON list of record fields the importer may see; NULL = all
    Column("purpose", Text, nullable=False),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("request_id", Text),  # the access request this grant answers, if any
    Column("request_digest", LargeBinary, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    *_signed_columns(),  # plain: no figures
    Index("ix_grants_importer", "importer_id", "created_at"),
    Index("ix_grants_manufacturer", "manufacturer_id", "created_at"),
)

grant_revocations = Table(
    "grant_revocations",
    metadata,
    Column("grant_id", Text, primary_key=True),
    Column("reason", Text),
    Column("revoked_at", DateTime(timezone=True), nullable=False),
    *_signed_columns(),  # plain: no figures
)

access_requests = Table(
    "access_requests",
    metadata,
    Column("id", Text, primary_key=True),
    Column("importer_id", Text, nullable=False),
    Column("manufacturer_id", Text, nullable=False),
    Column("product_line_id", Text, nullable=False),
    Column("installation_id", Text, nullable=False),
    Column("cn_codes", Text),
    Column("fields", Text),
    Column("purpose", Text, nullable=False),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("request_digest", LargeBinary, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    *_signed_columns(),  # plain: no figures
    Index("ix_access_requests_manufacturer", "manufacturer_id", "created_at"),
)

access_answers = Table(
    "access_answers",
    metadata,
    Column("request_id", Text, primary_key=True),
    Column("answer", Text, nullable=False),  # "granted" | "declined"
    Column("grant_id", Text),
    Column("reason", Text),
    Column("answered_at", DateTime(timezone=True), nullable=False),
    *_signed_columns(),  # plain: no figures
)

# Who read what: one row per record served to an organisation other than its manufacturer, in the
# record's home shard, so the manufacturer sees every read of its data (with the request id that
# also names the read in the gateway's logs). Append-only, like everything else here.
access_log = Table(
    "access_log",
    metadata,
    Column("id", Text, primary_key=True),
    Column("record_id", Text, nullable=False),
    Column("manufacturer_id", Text, nullable=False),
    Column("reader_id", Text, nullable=False),
    Column("request_id", Text),
    Column("fields", Text),  # JSON list of the fields served; NULL = every field
    Column("read_at", DateTime(timezone=True), nullable=False),
    Index("ix_access_log_manufacturer", "manufacturer_id", "read_at"),
)

# Anomaly scores (revision 0005): one row per record, written in the record's own transaction
# (vault/record_scores.py). status "scored" or "unscored" (with the reason); anything that would
# reveal a figure (reasons quote them, the rule's z-score implies one) is sealed in `explanation`.
record_scores = Table(
    "record_scores",
    metadata,
    Column("record_id", Text, primary_key=True),
    Column("manufacturer_id", Text, nullable=False),
    Column("status", Text, nullable=False),  # "scored" | "unscored"
    Column("model_version", Text),
    Column("probability", Float),
    Column("flagged", Boolean, nullable=False),  # at or above the threshold: in the review queue
    Column("rule_flagged", Boolean),  # the 3-sigma rule's verdict
    Column("explanation", LargeBinary),  # sealed JSON: reasons (flagged only) and the rule's detail
    Column("unscored_reason", Text),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    # HMAC (shard index key) of the rounded figures: later batches count copies across
    # installations by this index (vault/anomaly_ingest.py); NULL when the record was not mapped.
    Column("figures_digest", LargeBinary),
    Index("ix_record_scores_flagged", "flagged", "scored_at", "record_id"),
    Index("ix_record_scores_figures", "figures_digest"),
)

# A verifier's or regulator's review closing a flagged record's place in the queue: a signed
# document anchored by a ledger entry (anomaly.reviewed). One per record.
anomaly_reviews = Table(
    "anomaly_reviews",
    metadata,
    Column("record_id", Text, primary_key=True),
    Column("reviewer_id", Text, nullable=False),
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
    *_signed_columns(),  # document sealed: a note may quote figures
)

# What the manufacturer is told: a record of theirs was flagged, or its review is done.
anomaly_notifications = Table(
    "anomaly_notifications",
    metadata,
    Column("id", Text, primary_key=True),
    Column("record_id", Text, nullable=False),
    Column("manufacturer_id", Text, nullable=False),
    Column("kind", Text, nullable=False),  # "flagged" | "reviewed"
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True)),
    Index("ix_anomaly_notifications_manufacturer", "manufacturer_id", "created_at"),
)
