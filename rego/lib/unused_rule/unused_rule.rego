# METADATA
# title: An allow rule matched no observed flow
# description: >-
#   An allow rule that no flow observed in the lookback window matched is dead weight or a
#   leftover that still opens a path. By default a rule is judged only when the endpoints its
#   policy selects had traffic in that direction in the window, so that gaps in flow collection
#   are not reported as unused rules. Rules that shadowed-rule or dangling-selector already
#   explain are left to them.
# custom:
#   id: unused-rule
#   severity: low
#   action: dryrun
#   needsFlows: true
#   targets: [audit]
#   subjects:
#     - NetworkPolicy
#     - projectcalico.org/NetworkPolicy
#     - projectcalico.org/GlobalNetworkPolicy
#   parameters:
#     require_traffic: true
package flowguard.lib.unused_rule

import data.flowguard.policy
import data.flowguard.report

id := "unused-rule"

violation contains v if {
	rules := {[r.direction, r.index]: r | some r in policy.allow_rules(input.object)}
	some u in flowguard.rule_usage(input.object)
	u.action == "Allow"
	u.flows == 0
	judged(u)
	not explained(rules[[u.direction, u.index]], u)
	v := {
		"msg": sprintf("%s: %s rule %s%s matched no observed flow in the last %s, while the pods it applies to %s %d %s. Remove it if nothing needs it any more; if something does, check that its peers exist and that their traffic is not decided earlier (by another rule, policy or tier).", [
			policy.describe(input.object), u.direction, u.path, rule_text(rules, u), report.lookback,
			moved[u.direction], u.selected_flows, report.plural(u.selected_flows, "connection", "connections"),
		]),
		"details": {"direction": u.direction, "path": u.path, "selected_flows": u.selected_flows},
	}
}

moved := {"ingress": "received", "egress": "opened"}

rule_text(rules, u) := sprintf(" (%s)", [policy.rule_text(rules[[u.direction, u.index]])]) if {
	rules[[u.direction, u.index]]
} else := ""

# A rule that shadowed-rule reports (it never decides) or whose every peer dangling-selector
# reports (it matches nothing) is unused for the reason those findings give: reporting it here
# too would say the same thing twice.
explained(_, u) if {
	some s in flowguard.shadowed(input.object)
	s.path == u.path
}

explained(r, _) if {
	dangling := {peer_path(s.path) | some s in flowguard.selectors(input.object); s.matches == 0}
	count(r.peers) > 0
	every path in peer_paths(r) {
		path in dangling
	}
}

# peer_paths are the paths of a normalised rule's peers: spec.ingress[0].from[1] (Kubernetes),
# spec.ingress[0].source (Calico).
peer_paths(r) := [sprintf("%s.%s[%d]", [r.path, r.peer_field, i]) | some i, _ in r.peers] if not r.calico

peer_paths(r) := [sprintf("%s.%s", [r.path, r.peer_field])] if r.calico

# peer_path is the peer a selector path belongs to: spec.ingress[0].from[1].podSelector ->
# spec.ingress[0].from[1].
peer_path(path) := concat(".", array.slice(parts, 0, count(parts) - 1)) if parts := split(path, ".")

judged(u) if not report.parameter(id, "require_traffic", true)

judged(u) if u.selected_flows > 0
