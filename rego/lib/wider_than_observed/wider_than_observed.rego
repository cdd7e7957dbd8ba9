# METADATA
# title: An allow rule is far wider than the traffic it carries
# description: >-
#   An allow rule whose peers (every peer, every namespace, a large address block) or ports
#   (every port) are far wider than what the flows observed through it in the lookback window
#   used: all namespaces where one was seen, all ports where one was used. The finding carries
#   the rule narrowed to the observed traffic in details.fix (the whole policy with the rule
#   replaced, where narrowing a Calico rule takes several). Peers the flow log names only as
#   the public or private internet (pub, pvt) narrow to the addresses the flows kept, or else
#   to the address space the name stands for, within what the rule admitted.
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
		"msg": sprintf("%s: %s rule %s allows %s, but in the last %s carried only %d %s %s %s on %s (last seen %s). Narrow it to those peers and ports: the fix has the narrowed rule.", [
			policy.describe(input.object), u.direction, u.path, concat(" and ", [wide[k] | some k in sort(object.keys(wide))]),
			report.lookback, u.flows, report.plural(u.flows, "connection", "connections"),
			preposition[u.direction], concat(", ", [report.peer_text(p) | some p in u.peer_names]),
			concat(", ", u.port_names), u.last_seen,
		]),
		"details": {
			"direction": u.direction,
			"path": u.path,
			"allowed": wide,
			"observed": {"flows": u.flows, "peers": u.peer_names, "ports": u.port_names, "last_seen": u.last_seen},
			"fix": fix(u),
		},
	}
}

preposition := {"ingress": "from", "egress": "to"}

# fix is the narrowed rule, to put in place of the rule at details.path. Where narrowing takes
# several Calico rules (one per peer and protocol), it is the whole policy with the rule
# replaced by them, ready to apply.
fix(u) := u.narrowed[0] if count(u.narrowed) == 1

fix(u) := policy.replace_rule(input.object, u.direction, u.index, u.narrowed) if count(u.narrowed) > 1

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
