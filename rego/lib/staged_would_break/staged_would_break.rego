# METADATA
# title: A staged policy would deny traffic observed as allowed
# description: >-
#   Enforcing a staged policy (StagedNetworkPolicy, StagedGlobalNetworkPolicy,
#   StagedKubernetesNetworkPolicy; with stagedAction Delete, deleting its enforced twin) would
#   deny flows observed as allowed in the lookback window.
# custom:
#   id: staged-would-break
#   severity: medium
#   action: dryrun
#   needsFlows: true
#   targets: [audit]
#   subjects:
#     - projectcalico.org/StagedNetworkPolicy
#     - projectcalico.org/StagedGlobalNetworkPolicy
#     - projectcalico.org/StagedKubernetesNetworkPolicy
#   parameters:
#     max_flows_listed: 5
package flowguard.lib.staged_would_break

import data.flowguard.policy
import data.flowguard.report

id := "staged-would-break"

violation contains v if {
	# For a staged kind, flowguard.impact answers "what if it were enforced".
	impact := flowguard.impact(input.object, null, "CREATE")
	impact.broken_total > 0
	n := report.parameter(id, "max_flows_listed", 5)
	listed := [g | some i, g in impact.broken; i < n]
	v := {
		"msg": sprintf("%s, if enforced, would deny %d observed %s (%d %s) allowed in the last %s: %s%s. Add Allow rules for them before enforcing it, or leave it staged.", [
			policy.describe(input.object),
			impact.broken_total, report.plural(impact.broken_total, "flow", "flows"),
			impact.broken_flows, report.plural(impact.broken_flows, "connection", "connections"),
			report.lookback, report.first_flows(impact.broken, impact.broken_total, n),
			report.denied_clause(listed),
		]),
		"details": {"total": impact.broken_total, "connections": impact.broken_flows, "flows": listed},
	}
}
