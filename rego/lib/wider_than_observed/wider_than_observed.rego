# METADATA
# title: An allow rule is far wider than the traffic it carries
# description: >-
#   An allow rule whose peers (every peer, every namespace, a large address block) or ports
#   (every port) are far wider than what the flows observed through it in the lookback window
#   used: all namespaces where one was seen, all ports where one was used. The finding carries
#   the rule narrowed to the observed traffic in details.fix.
# custom:
#   id: wider-than-observed
#   severity: medium
#   action: warn
#   needsFlows: true
#   targets:
#     - NetworkPolicy
#     - projectcalico.org/NetworkPolicy
#     - projectcalico.org/GlobalNetworkPolicy
#     - audit
#   parameters:
#     min_flows: 1
#     max_observed_peers: 5
#     max_observed_ports: 3
#     max_prefix: 8
package flowguard.lib.wider_than_observed

import data.flowguard.policy
import data.flowguard.report

id := "wider-than-observed"

violation contains v if {
	input.operation != "DELETE"
	rules := {[r.direction, r.index]: r | some r in policy.allow_rules(input.object)}
	some u in flowguard.rule_usage(input.object)
	u.flows >= report.parameter(id, "min_flows", 1)
	r := rules[[u.direction, u.index]]
	wide := widths(r, u)
	count(wide) > 0
	v := {
		"msg": sprintf("%s: %s rule %s allows %s, but in the last %s carried only %d %s from %s on %s; narrow it to the observed traffic (details.fix)", [
			policy.describe(input.object), u.direction, u.path, concat(" and ", [wide[k] | some k in sort(object.keys(wide))]),
			report.lookback, u.flows, report.plural(u.flows, "connection", "connections"),
			concat(", ", u.peer_names), concat(",", u.port_names),
		]),
		"details": {
			"direction": u.direction,
			"path": u.path,
			"allowed": wide,
			"observed": {"flows": u.flows, "peers": u.peer_names, "ports": u.port_names, "last_seen": u.last_seen},
			"fix": u.narrowed,
		},
	}
}

# widths maps "peers" and/or "ports" to why the rule is wider than its observed traffic there.
widths(r, u) := object.union(peer_width(r, u), port_width(r, u))

# Peers that cannot be named narrower (the aggregated public or private internet, network sets,
# hosts) justify wide peers: the rule cannot be narrowed to them.
peer_width(r, u) := {"peers": sprintf("wide peers (%s)", [why])} if {
	u.opaque_peers == 0
	why := policy.wide_peers(r, report.parameter(id, "max_prefix", 8))
	count(u.peer_names) <= report.parameter(id, "max_observed_peers", 5)
} else := {}

port_width(r, u) := {"ports": sprintf("every port (%s)", [why])} if {
	why := policy.every_port(r)
	count(u.port_names) <= report.parameter(id, "max_observed_ports", 3)
} else := {}
