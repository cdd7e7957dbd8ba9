# METADATA
# title: A Calico rule can never decide
# description: >-
#   A rule of a Calico or admin policy that an earlier rule of the same policy, an earlier policy of the
#   tier, or an earlier tier always decides before it: it never takes effect, and whoever reads
#   the policy is misled.
# custom:
#   id: shadowed-rule
#   severity: low
#   action: dryrun
#   targets: [audit]
#   subjects:
#     - projectcalico.org/NetworkPolicy
#     - projectcalico.org/GlobalNetworkPolicy
#     - policy.networking.k8s.io/AdminNetworkPolicy
#     - policy.networking.k8s.io/BaselineAdminNetworkPolicy
#     - policy.networking.k8s.io/ClusterNetworkPolicy
package flowguard.lib.shadowed_rule

import data.flowguard.policy

violation contains v if {
	some s in flowguard.shadowed(input.object)
	v := {
		"msg": sprintf("%s: %s rule %s can never decide: %s. If it is meant to take effect, place it before %s; otherwise remove it.", [policy.describe(input.object), s.direction, s.path, s.reason, s.by]),
		"details": {"direction": s.direction, "path": s.path, "by": s.by},
	}
}
