# The compiled grant set: what a principal may read at input.now, as scopes the caller turns into
# one SQL WHERE per request (OR of scopes) instead of asking the policy about every row.
#
# A scope {manufacturer_id, installation_id, product_line_id, cn_codes, record_id, region, fields,
# grant_id}: null means "any" (region null = every shard), cn_codes [] means any CN code and a listed
# code matches as a prefix, fields null means every field. A record matching several scopes may
# return the union of their fields. Grants of an importer are read from its own sub-map only.
package cbamhub.authz

scopes := s if {
	s := scopes_for(input)
} else := []

scope(grant_id, manufacturer_id, installation_id, product_line_id, cn_codes, record_id, region, fields) := {
	"grant_id": grant_id,
	"manufacturer_id": manufacturer_id,
	"installation_id": installation_id,
	"product_line_id": product_line_id,
	"cn_codes": cn_codes,
	"record_id": record_id,
	"region": region,
	"fields": fields,
}

scopes_for(inp) := [] if {
	input_problem(object.union(inp, {"record": {}}))
} else := importer_scopes(inp) if {
	inp.principal.role == "importer"
} else := [scope(null, inp.principal.organisation_id, null, null, [], null, null, null)] if {
	inp.principal.role == "manufacturer"
} else := regulator_scopes(inp) if {
	inp.principal.role == "regulator"
} else := verifier_scopes(inp) if {
	inp.principal.role == "verifier"
} else := []

known_regions(principal) := {r | some r in object.keys(regions)} | {principal.region}

# The shards a grant's records can live in: the product line's (or installation's) home region,
# encoded in its id; a grant by CN code alone reaches every region.
grant_regions(g, principal) := {region_of_id(g.product_line_id)} if {
	is_string(g.product_line_id)
} else := {region_of_id(g.installation_id)} if {
	is_string(g.installation_id)
} else := known_regions(principal)

importer_scopes(inp) := [s |
	me := inp.principal.organisation_id
	now := ns(inp.now)
	some line in object.get(inp.grants, me, {})
	some g in line
	g.importer_id == me
	grant_active(g, now)
	some region in grant_regions(g, inp.principal)
	d := field_decision(grant_fields([g]), inp.principal, {"region": region}, "")
	d.allow
	s := scope(g.grant_id, g.manufacturer_id, g.installation_id, g.product_line_id, sort(object.get(g, "cn_codes", [])), null, region, d.fields)
]

regulator_scopes(inp) := [s |
	some region in known_regions(inp.principal)
	d := field_decision(regulator_fields(inp.principal.region), inp.principal, {"region": region}, "")
	d.allow
	s := scope(null, null, null, null, [], null, region, d.fields)
]

verifier_scopes(inp) := [s |
	assignments := object.get(inp, "assignments", {})
	some record_id in object.keys(assignments)
	a := assignments[record_id]
	a.verifier_id == inp.principal.organisation_id
	region := region_of_id(record_id)
	d := field_decision(null, inp.principal, {"region": region}, "")
	d.allow
	s := scope(null, null, null, null, [], record_id, region, d.fields)
]
