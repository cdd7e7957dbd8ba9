# METADATA
# title: Flows were denied by policy
# description: >-
#   Flows denied by network policy in the lookback window, grouped by source, destination, port
#   and protocol, and reported on the namespace whose policy denied them: ingress denials on the
#   destination's namespace, egress denials on the source's. Each is possible breakage (a peer
#   that should be allowed) or probing.
# custom:
#   id: denied-traffic
#   severity: low
#   action: dryrun
#   needsFlows: true
#   targets: [audit]
#   subjects: [Namespace]
#   parameters:
#     max_flows_listed: 5
#     exempt_namespaces: []
package flowguard.lib.denied_traffic

import data.flowguard.report

id := "denied-traffic"

violation contains v if {
	ns := input.object.metadata.name
	not report.exempt(id, ns)
	n := report.parameter(id, "max_flows_listed", 5)
	denied := flowguard.flows({"namespace": ns, "action": "deny", "direction": "any", "limit": n})
	denied.total > 0
	v := {
		"msg": sprintf("%d %s (%d %s) denied by policy in namespace %s in the last %s, possible breakage or probing: %s. Allow the ones that are expected, and find out why the sources of the others try to connect.", [
			denied.total, report.plural(denied.total, "flow", "flows"),
			denied.flows, report.plural(denied.flows, "connection", "connections"),
			ns, report.lookback, report.first_flows(denied.groups, denied.total, n),
		]),
		"details": {"total": denied.total, "connections": denied.flows, "flows": denied.groups},
	}
}
