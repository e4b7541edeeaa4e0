# Cross-region sovereignty: a read by a principal whose home region differs from the record's
# region sees only the fields the record's region lets leave it (data.cbamhub.regions, from
# data/regions.json: exportable_fields null = everything may leave).
package cbamhub.authz

regions := data.cbamhub.regions

region_of_id(id) := split(id, "_")[1]

# rego-cpp 1.x treats a function argument that indexes a data reference inside a comprehension as
# unbound (it iterates every region, measured), so the region's list is bound before the
# comprehension here and in regulator_fields.
exportable(region) := null if {
	is_null(regions[region].exportable_fields)
} else := s if {
	listed := regions[region].exportable_fields
	s := {f | some f in listed} | public_fields
}

# fields: null (every field) or a set; the result is what may be returned to `principal`.
mask(fields, allowed) := fields if is_null(allowed) else := allowed if is_null(fields) else := fields & allowed

field_decision(fields, principal, rec, why) := allow_fields(fields, why) if {
	principal.region == rec.region
} else := deny(concat("", [why, ", but region ", text(rec.region), " has no sovereignty rules, so nothing may leave it"])) if {
	not regions[rec.region]
} else := allow_fields(
	mask(fields, exportable(rec.region)),
	concat("", [why, "; masked to the fields region ", text(rec.region), " lets leave it"]),
)
