# Time: RFC 3339 strings compared as nanoseconds since the epoch.
package cbamhub.authz

# rego-cpp 1.x (regopy) leaves time.parse_rfc3339_ns undefined for a "Z" suffix (measured:
# "...T00:00:00Z" is undefined, "...T00:00:00+00:00" parses), so "Z" is rewritten to "+00:00" first.
# OPA parses both forms the same, so the rewrite changes nothing there.
ns(t) := time.parse_rfc3339_ns(concat("", [trim_suffix(upper(t), "Z"), "+00:00"])) if {
	endswith(upper(t), "Z")
}

ns(t) := time.parse_rfc3339_ns(t) if not endswith(upper(t), "Z")

# A missing or unreadable validity bound never makes a grant active (fail closed).
grant_active(g, now) if {
	g.revoked == false
	ns(g.valid_from) <= now
	until_ok(g, now)
}

until_ok(g, now) if is_null(g.valid_until)

until_ok(g, now) if now < ns(g.valid_until)

inactive_reason(g, now) := concat("", ["grant ", text(g.grant_id), " is revoked"]) if {
	g.revoked == true
} else := concat("", ["grant ", text(g.grant_id), " is valid only from ", text(g.valid_from)]) if {
	now < ns(g.valid_from)
} else := concat("", ["grant ", text(g.grant_id), " expired at ", text(g.valid_until)]) if {
	not is_null(g.valid_until)
	now >= ns(g.valid_until)
} else := concat("", ["grant ", text(g.grant_id), " has an unreadable validity period or revocation flag"])
