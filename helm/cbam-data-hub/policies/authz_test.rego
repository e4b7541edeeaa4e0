# Decisions of authz.rego, case by case. Tests call the decision functions with explicit inputs
# (see authz.rego for why not `with input as`). Run: python -m cbamhub.policies.testing
package cbamhub.authz_test

import data.cbamhub.authz

now := "2025-06-01T00:00:00Z"

importer_eu := {"organisation_id": "org_eu_imp", "role": "importer", "region": "eu"}

other_importer_eu := {"organisation_id": "org_eu_other", "role": "importer", "region": "eu"}

importer_cn := {"organisation_id": "org_cn_imp", "role": "importer", "region": "cn"}

manufacturer_cn := {"organisation_id": "org_cn_mfr", "role": "manufacturer", "region": "cn"}

verifier_eu := {"organisation_id": "org_eu_ver", "role": "verifier", "region": "eu"}

verifier_cn := {"organisation_id": "org_cn_ver", "role": "verifier", "region": "cn"}

regulator_eu := {"organisation_id": "org_eu_reg", "role": "regulator", "region": "eu"}

regulator_cn := {"organisation_id": "org_cn_reg", "role": "regulator", "region": "cn"}

customs_eu := {"organisation_id": "org_eu_customs", "role": "customs", "region": "eu"}

record_cn := {
	"id": "rec_cn_1", "manufacturer_id": "org_cn_mfr", "installation_id": "ins_cn_1",
	"product_line_id": "pl_cn_1", "cn_code": "72081000", "region": "cn",
}

record_eu := {
	"id": "rec_eu_1", "manufacturer_id": "org_cn_mfr", "installation_id": "ins_eu_1",
	"product_line_id": "pl_eu_1", "cn_code": "76011000", "region": "eu",
}

base_grant := {
	"grant_id": "gr_1", "manufacturer_id": "org_cn_mfr", "importer_id": "org_eu_imp",
	"product_line_id": "pl_cn_1", "installation_id": null, "cn_codes": [], "fields": null,
	"purpose": "CBAM declaration 2025", "valid_from": "2025-01-01T00:00:00Z",
	"valid_until": "2026-01-01T00:00:00Z", "revoked": false,
}

grant(overrides) := object.union(base_grant, overrides)

line_key(g) := g.product_line_id if is_string(g.product_line_id) else := "*"

# The input's grant map: importer id -> product line id ("*") -> grant id -> grant.
grants_map(g) := {g.importer_id: {line_key(g): {g.grant_id: g}}}

read_input(principal, record, grants) := {
	"now": now, "principal": principal, "record": record, "grants": grants, "assignments": {},
}

read(principal, record, grants) := authz.read_decision(read_input(principal, record, grants))

field_set(d) := {f | some f in d.fields}

# --- manufacturers

test_manufacturer_reads_its_own_record_in_full if {
	d := read(manufacturer_cn, record_eu, {})
	d.allow == true
	is_null(d.fields)
}

test_manufacturer_cannot_read_another_manufacturers_record if {
	other := {"organisation_id": "org_cn_x", "role": "manufacturer", "region": "cn"}
	d := read(other, record_cn, {})
	d.allow == false
	contains(d.reason, "only its own records")
}

# --- importers under grants

test_importer_without_grant_is_denied if {
	d := read(importer_eu, record_cn, {})
	d.allow == false
	d.fields == []
	contains(d.reason, "no grant")
}

test_importer_with_full_grant_in_same_region_reads_every_field if {
	g := grant({"product_line_id": "pl_eu_1"})
	d := read(importer_eu, record_eu, grants_map(g))
	d.allow == true
	is_null(d.fields)
	contains(d.reason, "gr_1")
}

test_field_restricted_grant_returns_only_shared_fields_and_public_ones if {
	g := grant({"product_line_id": "pl_eu_1", "fields": ["direct_emissions"]})
	d := read(importer_eu, record_eu, grants_map(g))
	d.allow == true
	field_set(d) == authz.public_fields | {"direct_emissions"}
}

test_revoked_grant_is_denied_with_reason if {
	d := read(importer_eu, record_cn, grants_map(grant({"revoked": true})))
	d.allow == false
	contains(d.reason, "revoked")
}

test_expired_grant_is_denied_with_reason if {
	g := grant({"valid_until": "2025-05-31T23:59:59Z"})
	d := read(importer_eu, record_cn, grants_map(g))
	d.allow == false
	contains(d.reason, "expired")
}

test_grant_not_yet_valid_is_denied if {
	g := grant({"valid_from": "2025-07-01T00:00:00Z"})
	d := read(importer_eu, record_cn, grants_map(g))
	d.allow == false
	contains(d.reason, "valid only from")
}

test_validity_is_from_inclusive_until_exclusive if {
	starts := read(importer_eu, record_cn, grants_map(grant({"valid_from": now})))
	starts.allow == true
	ends := read(importer_eu, record_cn, grants_map(grant({"valid_until": now})))
	ends.allow == false
}

test_validity_compares_instants_not_strings if {
	# 2025-06-01T02:00:00+02:00 is the same instant as now: the grant has just ended
	g := grant({"valid_until": "2025-06-01T02:00:00+02:00"})
	d := read(importer_eu, record_cn, grants_map(g))
	d.allow == false
}

test_open_ended_grant_is_valid if {
	d := read(importer_eu, record_cn, grants_map(grant({"valid_until": null})))
	d.allow == true
}

test_unreadable_validity_never_allows if {
	d := read(importer_eu, record_cn, grants_map(grant({"valid_from": "yesterday"})))
	d.allow == false
}

test_revoked_flag_must_be_false_not_missing if {
	g := object.remove(base_grant, ["revoked"])
	d := read(importer_eu, record_cn, grants_map(g))
	d.allow == false
}

test_grant_of_another_importer_does_not_apply if {
	d := read(other_importer_eu, record_cn, grants_map(base_grant))
	d.allow == false
}

test_grant_filed_under_the_wrong_importer_is_ignored if {
	misfiled := {"org_eu_other": {"pl_cn_1": {"gr_1": base_grant}}}
	d := read(other_importer_eu, record_cn, misfiled)
	d.allow == false
}

test_grant_for_another_product_line_does_not_apply if {
	d := read(importer_eu, record_eu, grants_map(base_grant))
	d.allow == false
}

test_grant_of_another_manufacturer_does_not_apply if {
	g := grant({"manufacturer_id": "org_cn_someone_else"})
	d := read(importer_eu, record_cn, grants_map(g))
	d.allow == false
}

test_cn_code_grant_matches_by_prefix if {
	g := grant({"product_line_id": null, "cn_codes": ["7208"]})
	steel := read(importer_eu, record_cn, grants_map(g))
	steel.allow == true
	aluminium := read(importer_eu, object.union(record_cn, {"cn_code": "76011000"}), grants_map(g))
	aluminium.allow == false
}

test_product_line_grant_restricted_to_cn_codes if {
	g := grant({"cn_codes": ["72081000"]})
	read(importer_eu, record_cn, grants_map(g)).allow == true
	other := object.union(record_cn, {"cn_code": "72082000"})
	read(importer_eu, other, grants_map(g)).allow == false
}

test_installation_restricted_grant if {
	g := grant({"installation_id": "ins_cn_2"})
	d := read(importer_eu, record_cn, grants_map(g))
	d.allow == false
}

test_several_grants_union_their_fields if {
	a := grant({"grant_id": "gr_a", "product_line_id": "pl_eu_1", "fields": ["direct_emissions"]})
	b := grant({"grant_id": "gr_b", "product_line_id": "pl_eu_1", "fields": ["data_quality_tier"]})
	grants := {"org_eu_imp": {"pl_eu_1": {"gr_a": a, "gr_b": b}}}
	d := read(importer_eu, record_eu, grants)
	field_set(d) == (authz.public_fields | {"direct_emissions", "data_quality_tier"})
}

# --- roles and input

test_unknown_role_is_denied_with_reason if {
	d := read({"organisation_id": "org_x", "role": "superuser", "region": "eu"}, record_cn, {})
	d.allow == false
	contains(d.reason, "unknown role superuser")
}

test_missing_principal_is_denied if {
	d := authz.read_decision({"now": now, "record": record_cn})
	d.allow == false
}

test_missing_time_is_denied if {
	d := authz.read_decision({"principal": manufacturer_cn, "record": record_cn})
	d.allow == false
	contains(d.reason, "RFC 3339")
}

test_customs_does_not_read_records if {
	d := read(customs_eu, record_cn, grants_map(base_grant))
	d.allow == false
}
