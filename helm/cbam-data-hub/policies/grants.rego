# Grants: which grants cover a record, and what they share.
#
# input.grants is a map importer id -> product line id -> grant id -> grant, so a decision looks up
# the importer's grants for the record's product line (and the "*" key: grants by CN code with no
# product line) instead of scanning every grant.
package cbamhub.authz

line_keys(rec) := {rec.product_line_id, "*"} if is_string(rec.product_line_id) else := {"*"}

# Grants of `importer` that name this record, whatever their validity.
covering_grants(grants, importer, rec) := [g |
	lines := object.get(grants, importer, {})
	some key in line_keys(rec)
	some g in object.get(lines, key, {})
	g.importer_id == importer
	covers(g, rec)
]

active_covering_grants(grants, importer, rec, now) := [g |
	some g in covering_grants(grants, importer, rec)
	grant_active(g, now)
]

covers(g, rec) if {
	g.manufacturer_id == rec.manufacturer_id
	line_matches(g, rec)
	installation_matches(g, rec)
	cn_matches(g, rec)
}

line_matches(g, rec) if is_null(g.product_line_id)

line_matches(g, rec) if g.product_line_id == rec.product_line_id

installation_matches(g, rec) if is_null(g.installation_id)

installation_matches(g, rec) if g.installation_id == rec.installation_id

# No CN codes = every CN code of the product line. A listed code matches as a prefix, so a
# 4-digit heading ("7208") covers its 8-digit subheadings.
cn_matches(g, rec) if count(object.get(g, "cn_codes", [])) == 0

cn_matches(g, rec) if {
	some code in g.cn_codes
	startswith(rec.cn_code, code)
}

# The fields the grants share: null (every field) if any of them shares everything.
grant_fields(gs) := null if {
	some g in gs
	is_null(g.fields)
} else := {f | some g in gs; some f in g.fields} | public_fields

grant_ids(gs) := concat(", ", sort([g.grant_id | some g in gs]))

no_grant_reason(grants, importer, rec, now) := msg if {
	gs := covering_grants(grants, importer, rec)
	count(gs) > 0
	# the call sits in the body, not the head: rego-cpp 1.x evaluates a function call in a
	# comprehension's head wrongly (measured: an else-chain takes its last branch)
	msg := concat("; ", sort([why | some g in gs; why := inactive_reason(g, now)]))
} else := concat("", ["no grant of manufacturer ", text(rec.manufacturer_id), " to importer ", text(importer), " covers product line ", text(rec.product_line_id), ", CN code ", text(rec.cn_code)])
