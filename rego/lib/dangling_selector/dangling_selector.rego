# METADATA
# title: A selector matches nothing
# description: >-
#   A policy's selector, or a rule peer's selector, matches no workload, namespace or network
#   set: a typo, or a leftover from something deleted. Empty selectors (podSelector {},
#   all()) are meant to match whatever exists and are not reported.
# custom:
#   id: dangling-selector
#   severity: low
#   action: warn
#   targets:
#     - NetworkPolicy
#     - projectcalico.org/NetworkPolicy
#     - projectcalico.org/GlobalNetworkPolicy
#     - projectcalico.org/StagedNetworkPolicy
#     - projectcalico.org/StagedGlobalNetworkPolicy
#     - projectcalico.org/StagedKubernetesNetworkPolicy
#     - audit
package flowguard.lib.dangling_selector

import data.flowguard.policy

violation contains v if {
	input.operation != "DELETE"
	some s in flowguard.selectors(input.object)
	s.matches == 0
	v := {
		"msg": sprintf("%s: %s (%s) matches no %s: %s", [policy.describe(input.object), s.path, s.selector, s.what, consequence(s.path)]),
		"details": {"path": s.path, "selector": s.selector, "what": s.what},
	}
}

# A peer's selector that matches nothing allows nothing today and whatever matches it tomorrow;
# the policy's own selector leaves the policy applying to nothing.
consequence(path) := "it allows nothing today, but whatever matches it later will be allowed. Fix the selector, or remove the peer." if {
	some prefix in {"spec.ingress[", "spec.egress["}
	startswith(path, prefix)
} else := "the policy applies to nothing. Fix the selector, or delete the policy."
