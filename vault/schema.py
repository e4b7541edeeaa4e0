"""The tables of one region's shard. The shard's log lives beside them (cbamhub.ledger.schema), so a
row and the ledger entry anchoring it commit in one transaction. Rows refer to other shards only by id."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, LargeBinary, MetaData, Table, Text

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
    Column("manufacturer_id", Text, nullable=False, index=True),
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
)
