# Cross-region reads: masked to what the record's region lets leave it (data/regions.json).
package cbamhub.authz_test

import data.cbamhub.authz

test_cross_region_read_keeps_activity_data_and_location_home if {
	d := read(importer_eu, record_cn, grants_map(base_grant))
	d.allow == true
	"direct_emissions" in d.fields
	"data_quality_tier" in d.fields
	"inclusion_proof" in d.fields
	not "activity_data" in field_set(d)
	not "latitude" in field_set(d)
	not "installation_cbam_id" in field_set(d)
	contains(d.reason, "masked")
}

test_masking_intersects_the_grants_fields if {
	g := grant({"fields": ["direct_emissions", "activity_data"]})
	d := read(importer_eu, record_cn, grants_map(g))
	field_set(d) == authz.public_fields | {"direct_emissions"}
}

test_region_that_exports_everything_is_not_masked if {
	g := grant({"importer_id": "org_cn_imp", "product_line_id": "pl_eu_1"})
	d := read(importer_cn, record_eu, grants_map(g))
	d.allow == true
	is_null(d.fields)
}

test_region_without_rules_lets_nothing_leave if {
	record_xx := object.union(record_cn, {"region": "xx"})
	d := read(importer_eu, record_xx, grants_map(base_grant))
	d.allow == false
	contains(d.reason, "no sovereignty rules")
}

test_same_region_read_is_not_masked if {
	g := grant({"importer_id": "org_cn_imp"})
	d := read(importer_cn, record_cn, grants_map(g))
	is_null(d.fields)
}

test_every_configured_region_exports_the_public_fields if {
	every region in object.keys(authz.regions) {
		exports_public(region)
	}
}

exports_public(region) if is_null(authz.exportable(region))

exports_public(region) if count(authz.public_fields - authz.exportable(region)) == 0

test_time_parsing_accepts_z_and_offsets if {
	authz.ns("2025-06-01T00:00:00Z") == authz.ns("2025-06-01T02:00:00+02:00")
	authz.ns("2025-06-01T00:00:00z") == authz.ns("2025-06-01T00:00:00+00:00")
}
