# METADATA
# title: A change would deny traffic observed as allowed
# description: >-
#   Creating, updating or deleting a policy, a network set, a tier, a namespace's labels or a
#   workload's labels would deny flows that were observed as allowed in the lookback window.
#   The message names the flows (source -> destination:port, count, last seen), the first few
#   and the total.
# custom:
#   id: breaking-change
#   severity: high
#   action: deny
#   needsFlows: true
#   targets:
#     - NetworkPolicy
#     - projectcalico.org/NetworkPolicy
#     - projectcalico.org/GlobalNetworkPolicy
#     - policy.networking.k8s.io/AdminNetworkPolicy
#     - policy.networking.k8s.io/BaselineAdminNetworkPolicy
#     - policy.networking.k8s.io/ClusterNetworkPolicy
#     - projectcalico.org/NetworkSet
#     - projectcalico.org/GlobalNetworkSet
#     - projectcalico.org/Tier
#     - Namespace
#     - Pod
#     - Deployment
#     - StatefulSet
#     - DaemonSet
#     - ReplicaSet
#     - ReplicationController
#     - Job
#     - CronJob
#   parameters:
#     max_flows_listed: 5
#     exempt_namespaces: []
package flowguard.lib.breaking_change

import data.flowguard.policy
import data.flowguard.report

id := "breaking-change"

subject := input.object if input.operation != "DELETE"

subject := input.oldObject if input.operation == "DELETE"

verbs := {"CREATE": "Creating", "UPDATE": "Updating", "DELETE": "Deleting"}

violation contains v if {
	not report.exempt(id, object.get(subject.metadata, "namespace", ""))
	impact := flowguard.impact(input.object, input.oldObject, input.operation)
	impact.broken_total > 0
	n := report.parameter(id, "max_flows_listed", 5)
	listed := [g | some i, g in impact.broken; i < n]
	v := {
		"msg": sprintf("%s %s would deny %d observed %s (%d %s) allowed in the last %s: %s%s. Allow them first if they are still needed.", [
			verbs[input.operation], policy.describe(subject),
			impact.broken_total, report.plural(impact.broken_total, "flow", "flows"),
			impact.broken_flows, report.plural(impact.broken_flows, "connection", "connections"),
			report.lookback, report.first_flows(impact.broken, impact.broken_total, n),
			report.denied_clause(listed),
		]),
		"details": {
			"operation": input.operation,
			"total": impact.broken_total,
			"connections": impact.broken_flows,
			"flows": listed,
		},
	}
}
