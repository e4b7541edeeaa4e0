# The vocabulary of record fields the decisions speak of: the record model's top-level fields
# (vault/record_model.py, snake_case) plus the hub's envelope around a stored record.
package cbamhub.authz

# Public: identifiers and proof-level data. These are in the public transparency log anyway
# (subject ids, commitments, proofs), so every allowed read includes them and no region masks them.
public_fields := {
	"id", "manufacturer_id", "installation_id", "product_line_id", "cn_code", "region",
	"status", "commitment", "inclusion_proof", "checkpoint", "signer_key_id", "published_at",
}

# Specific embedded emissions (SEE): the figures an importer declares.
see_fields := {"direct_emissions", "indirect_emissions"}

# How good the figures are.
quality_fields := {
	"data_quality_tier", "methodology", "missing_data", "attestation_of_conformance",
	"default_value_source",
}

# What the plant did: production volumes, inputs, prices paid. Commercially sensitive.
activity_fields := {
	"activity_data", "production_method", "precursors", "free_allocation_factor",
	"carbon_price_paid", "evidence_documents",
}

# Where the plant is and who runs it.
location_fields := {
	"country_code", "un_lo_code", "latitude", "longitude", "operator_cbam_id",
	"installation_cbam_id",
}

# What a customs check may return: figures and their quality, never activity data or location.
customs_view := (see_fields | quality_fields) | public_fields
