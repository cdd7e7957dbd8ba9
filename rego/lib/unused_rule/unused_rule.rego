# METADATA
# title: An allow rule matched no observed flow
# description: >-
#   An allow rule that no flow observed in the lookback window matched is dead weight or a
#   leftover that still opens a path. By default a rule is judged only when the endpoints its
#   policy selects had traffic in that direction in the window, so that gaps in flow collection
#   are not reported as unused rules.
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
	some u in flowguard.rule_usage(input.object)
	u.action == "Allow"
	u.flows == 0
	judged(u)
	v := {
		"msg": sprintf("%s: %s rule %s matched no observed flow in the last %s (%d %s reached the endpoints it protects); remove it, or check that its peers still exist", [
			policy.describe(input.object), u.direction, u.path, report.lookback,
			u.selected_flows, report.plural(u.selected_flows, "connection", "connections"),
		]),
		"details": {"direction": u.direction, "path": u.path, "selected_flows": u.selected_flows},
	}
}

judged(u) if not report.parameter(id, "require_traffic", true)

judged(u) if u.selected_flows > 0
