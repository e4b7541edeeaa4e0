# Read decisions of the CBAM Data Hub. Default deny: every path that does not end in an explicit
# allow is a denial with a reason.
#
# Entry points (OPA REST paths), each over `input`:
#   cbamhub/authz/read           {principal, record, now, grants, assignments}
#   cbamhub/authz/customs_check  {principal, importer_id, record, now, grants}
#   cbamhub/authz/audit          {principal, record, now}
#   cbamhub/authz/verify         {principal, record, now, assignments}
#   cbamhub/authz/scopes         {principal, now, grants, assignments}  (scopes.rego)
# A decision is {"allow": bool, "fields": null (every field) | [names], "reason": string}.
#
# The logic lives in functions of the input document and the entry points apply them to `input`:
# the tests call the functions directly, because rego-cpp 1.x crashes the process (SIGSEGV,
# measured) on `with input as` over some rules, and a policy test must not take the runner down.
package cbamhub.authz

ready := true

read := d if {
	d := read_decision(input)
} else := deny("the policy could not decide on this input")

customs_check := d if {
	d := customs_decision(input)
} else := deny("the policy could not decide on this input")

audit := d if {
	d := audit_decision(input)
} else := deny("the policy could not decide on this input")

verify := d if {
	d := verify_decision(input)
} else := deny("the policy could not decide on this input")

deny(reason) := {"allow": false, "fields": [], "reason": reason}

allow_fields(fields, why) := {"allow": true, "fields": null, "reason": why} if {
	is_null(fields)
} else := {"allow": true, "fields": sort([f | some f in fields]), "reason": why}

roles := {"manufacturer", "importer", "verifier", "regulator", "customs"}

input_problem(inp) := "input.principal is missing or not an object" if {
	not is_object(inp.principal)
} else := "input.principal needs organisation_id, role and region strings" if {
	some key in ["organisation_id", "role", "region"]
	not is_string(object.get(inp.principal, key, null))
} else := "input.record is missing or not an object" if {
	not is_object(inp.record)
} else := "input.now is not an RFC 3339 time" if {
	not is_number(ns(inp.now))
} else := concat("", ["unknown role ", text(inp.principal.role)]) if {
	not inp.principal.role in roles
}

read_decision(inp) := deny(problem) if {
	problem := input_problem(inp)
} else := manufacturer_read(inp) if {
	inp.principal.role == "manufacturer"
} else := importer_read(inp) if {
	inp.principal.role == "importer"
} else := verifier_read(inp) if {
	inp.principal.role == "verifier"
} else := regulator_view(inp) if {
	inp.principal.role == "regulator"
} else := deny("customs organisations check declaration lines (customs_check); they do not read records")

manufacturer_read(inp) := allow_fields(null, "a manufacturer reads its own records") if {
	inp.principal.organisation_id == inp.record.manufacturer_id
} else := deny(concat("", ["manufacturer ", text(inp.principal.organisation_id), " reads only its own records; this one is ", text(inp.record.manufacturer_id), "'s"]))

importer_read(inp) := field_decision(grant_fields(gs), inp.principal, inp.record, why) if {
	gs := active_covering_grants(inp.grants, inp.principal.organisation_id, inp.record, ns(inp.now))
	count(gs) > 0
	why := concat("", ["importer ", text(inp.principal.organisation_id), " reads under grant(s) ", text(grant_ids(gs))])
} else := deny(no_grant_reason(inp.grants, inp.principal.organisation_id, inp.record, ns(inp.now)))

# Verification assignments: input.assignments maps record id -> {"verifier_id": ...}.
assigned(inp) if inp.assignments[inp.record.id].verifier_id == inp.principal.organisation_id

verifier_read(inp) := field_decision(null, inp.principal, inp.record, why) if {
	assigned(inp)
	why := concat("", ["verifier ", text(inp.principal.organisation_id), " is assigned to record ", text(inp.record.id)])
} else := deny(concat("", ["verifier ", text(inp.principal.organisation_id), " is not assigned to record ", text(inp.record.id)]))

# Regulators audit: proof-level data always, figures only as far as the regulator's own region's
# rules (regulator_fields) and the record's region's export rules allow.
regulator_fields(region) := s if {
	listed := object.get(regions, [region, "regulator_fields"], [])
	s := {f | some f in listed} | public_fields
}

regulator_view(inp) := field_decision(regulator_fields(inp.principal.region), inp.principal, inp.record, why) if {
	why := concat("", ["regulator ", text(inp.principal.organisation_id), " audits record ", text(inp.record.id)])
}

audit_decision(inp) := deny(problem) if {
	problem := input_problem(inp)
} else := regulator_view(inp) if {
	inp.principal.role == "regulator"
} else := deny(concat("", ["audit access is for regulators; ", text(inp.principal.organisation_id), " is a ", text(inp.principal.role)]))

verify_decision(inp) := deny(problem) if {
	problem := input_problem(inp)
} else := verifier_read(inp) if {
	inp.principal.role == "verifier"
} else := deny(concat("", ["only verifiers attest records; ", text(inp.principal.organisation_id), " is a ", text(inp.principal.role)]))

# Customs may check a declaration line of an importer that holds an active grant covering the
# record: figures and quality only (customs_view), within what the grant shares.
customs_fields(granted) := customs_view if is_null(granted) else := granted & customs_view

customs_decision(inp) := deny(problem) if {
	problem := input_problem(inp)
} else := deny(concat("", ["customs checks are for customs organisations; ", text(inp.principal.organisation_id), " is a ", text(inp.principal.role)])) if {
	inp.principal.role != "customs"
} else := deny("input.importer_id must name the declaring importer") if {
	not is_string(inp.importer_id)
} else := field_decision(customs_fields(grant_fields(gs)), inp.principal, inp.record, why) if {
	gs := active_covering_grants(inp.grants, inp.importer_id, inp.record, ns(inp.now))
	count(gs) > 0
	why := concat("", ["customs ", text(inp.principal.organisation_id), " checks a line of importer ", text(inp.importer_id), " under grant(s) ", text(grant_ids(gs))])
} else := deny(no_grant_reason(inp.grants, inp.importer_id, inp.record, ns(inp.now)))

# Reasons are built with concat over text(x) (strings as they are, anything else as JSON), never
# sprintf: rego-cpp 1.x's sprintf wraps computed strings in quotes it does not escape in its JSON
# output (measured), which breaks the answer.
text(x) := x if is_string(x) else := json.marshal(x)
