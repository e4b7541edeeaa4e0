# Verifiers, regulators and customs.
package cbamhub.authz_test

import data.cbamhub.authz

assigned_input(principal, record, verifier_id) := {
	"now": now, "principal": principal, "record": record, "grants": {},
	"assignments": {record.id: {"verifier_id": verifier_id}},
}

test_assigned_verifier_reads_the_record if {
	d := authz.read_decision(assigned_input(verifier_cn, record_cn, "org_cn_ver"))
	d.allow == true
	is_null(d.fields)
}

test_unassigned_verifier_is_denied if {
	d := read(verifier_cn, record_cn, {})
	d.allow == false
	contains(d.reason, "not assigned")
}

test_verifier_assigned_to_someone_else_is_denied if {
	d := authz.read_decision(assigned_input(verifier_cn, record_cn, "org_cn_other_ver"))
	d.allow == false
}

test_verifier_in_another_region_is_masked if {
	d := authz.read_decision(assigned_input(verifier_eu, record_cn, "org_eu_ver"))
	d.allow == true
	not "activity_data" in field_set(d)
}

test_verify_access_is_for_verifiers_only if {
	inp := assigned_input(importer_eu, record_cn, "org_eu_imp")
	authz.verify_decision(inp).allow == false
	authz.verify_decision(assigned_input(verifier_cn, record_cn, "org_cn_ver")).allow == true
}

test_regulator_audit_in_its_region_sees_its_regions_figures if {
	d := authz.audit_decision(read_input(regulator_eu, record_eu, {}))
	d.allow == true
	"commitment" in d.fields
	"inclusion_proof" in d.fields
	"activity_data" in d.fields
	not "latitude" in field_set(d)
}

test_regulator_audit_across_regions_keeps_proofs_and_loses_what_may_not_leave if {
	d := authz.audit_decision(read_input(regulator_eu, record_cn, {}))
	d.allow == true
	"commitment" in d.fields
	"direct_emissions" in d.fields
	not "activity_data" in field_set(d)
}

test_regulator_figures_follow_the_regulators_own_region_rules if {
	d := authz.audit_decision(read_input(regulator_cn, record_eu, {}))
	d.allow == true
	"direct_emissions" in d.fields
	not "activity_data" in field_set(d)
}

test_audit_is_for_regulators_only if {
	d := authz.audit_decision(read_input(importer_eu, record_cn, grants_map(base_grant)))
	d.allow == false
	contains(d.reason, "regulators")
}

customs_input(principal, importer_id, record, grants) := {
	"now": now, "principal": principal, "importer_id": importer_id, "record": record,
	"grants": grants,
}

test_customs_checks_a_granted_line_with_figures_and_quality_only if {
	g := grant({"product_line_id": "pl_eu_1"})
	d := authz.customs_decision(customs_input(customs_eu, "org_eu_imp", record_eu, grants_map(g)))
	d.allow == true
	field_set(d) == authz.customs_view
	not "activity_data" in field_set(d)
}

test_customs_check_stays_within_what_the_grant_shares if {
	g := grant({"product_line_id": "pl_eu_1", "fields": ["direct_emissions", "activity_data"]})
	d := authz.customs_decision(customs_input(customs_eu, "org_eu_imp", record_eu, grants_map(g)))
	field_set(d) == authz.public_fields | {"direct_emissions"}
}

test_customs_check_without_the_importers_grant_is_denied if {
	d := authz.customs_decision(customs_input(customs_eu, "org_eu_other", record_cn, grants_map(base_grant)))
	d.allow == false
}

test_customs_check_on_a_revoked_grant_is_denied if {
	g := grant({"revoked": true})
	d := authz.customs_decision(customs_input(customs_eu, "org_eu_imp", record_cn, grants_map(g)))
	d.allow == false
	contains(d.reason, "revoked")
}

test_customs_check_by_a_non_customs_organisation_is_denied if {
	d := authz.customs_decision(customs_input(importer_eu, "org_eu_imp", record_cn, grants_map(base_grant)))
	d.allow == false
}
