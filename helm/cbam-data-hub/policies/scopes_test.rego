# The compiled grant set.
package cbamhub.authz_test

import data.cbamhub.authz

scopes_input(principal, grants, assignments) := {
	"now": now, "principal": principal, "grants": grants, "assignments": assignments,
}

test_importer_scopes_list_active_grants_only if {
	a := grant({"grant_id": "gr_a"})
	b := grant({"grant_id": "gr_b", "product_line_id": "pl_cn_2", "revoked": true})
	grants := {"org_eu_imp": {"pl_cn_1": {"gr_a": a}, "pl_cn_2": {"gr_b": b}}}
	s := authz.scopes_for(scopes_input(importer_eu, grants, {}))
	count(s) == 1
	s[0].grant_id == "gr_a"
	s[0].product_line_id == "pl_cn_1"
	s[0].region == "cn"
	not "activity_data" in {f | some f in s[0].fields}
}

test_importer_scopes_ignore_other_importers_grants if {
	other := grant({"importer_id": "org_eu_other"})
	s := authz.scopes_for(scopes_input(importer_eu, grants_map(other), {}))
	s == []
}

test_cn_code_grant_scopes_every_region_with_its_own_mask if {
	g := grant({"product_line_id": null, "cn_codes": ["7208"]})
	s := authz.scopes_for(scopes_input(importer_eu, grants_map(g), {}))
	regions := {x.region | some x in s}
	regions == {r | some r in object.keys(authz.regions)}
	some eu in s
	eu.region == "eu"
	is_null(eu.fields)
	some cn in s
	cn.region == "cn"
	not "activity_data" in {f | some f in cn.fields}
}

test_manufacturer_scope_is_its_own_records if {
	s := authz.scopes_for(scopes_input(manufacturer_cn, {}, {}))
	s == [authz.scope(null, "org_cn_mfr", null, null, [], null, null, null)]
}

test_regulator_scopes_one_per_region if {
	s := authz.scopes_for(scopes_input(regulator_eu, {}, {}))
	count(s) == count(object.keys(authz.regions))
}

test_verifier_scopes_are_its_assignments if {
	assignments := {"rec_cn_1": {"verifier_id": "org_cn_ver"}, "rec_cn_2": {"verifier_id": "org_x"}}
	s := authz.scopes_for(scopes_input(verifier_cn, {}, assignments))
	count(s) == 1
	s[0].record_id == "rec_cn_1"
}

test_unknown_role_has_no_scopes if {
	p := {"organisation_id": "org_x", "role": "superuser", "region": "eu"}
	authz.scopes_for(scopes_input(p, {}, {})) == []
}
