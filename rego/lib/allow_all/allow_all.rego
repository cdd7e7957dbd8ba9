# METADATA
# title: An allow rule admits every peer on every port
# description: >-
#   A rule that allows traffic from (or to) anywhere on any port gives the policy no effect in
#   that direction: an empty from/to, 0.0.0.0/0 or ::/0, a namespaceSelector {} without a
#   podSelector, or a Calico rule with no source/destination restriction, with no ports; for the
#   admin policy kinds, an Allow (Accept) rule with namespaces {} or networks 0.0.0.0/0 or ::/0
#   and no ports: it overrides every namespace's own policies for that traffic.
# custom:
#   id: allow-all
#   severity: high
#   action: warn
#   targets:
#     - NetworkPolicy
#     - projectcalico.org/NetworkPolicy
#     - projectcalico.org/GlobalNetworkPolicy
#     - policy.networking.k8s.io/AdminNetworkPolicy
#     - policy.networking.k8s.io/BaselineAdminNetworkPolicy
#     - policy.networking.k8s.io/ClusterNetworkPolicy
#     - audit
package flowguard.lib.allow_all

import data.flowguard.policy

violation contains v if {
	some r in policy.allow_rules(input.object)
	why_peers := policy.every_peer(r)
	why_ports := policy.every_port(r)
	v := {
		"msg": sprintf("%s: %s rule %s admits every peer on every port (%s; %s). Restrict it to the peers and ports %s need (`flowguard recommend` learns them from observed traffic).", [
			policy.describe(input.object), r.direction, r.path, why_peers, why_ports,
			policy.subject_text(input.object),
		]),
		"details": {
			"direction": r.direction,
			"path": r.path,
			"peers": why_peers,
			"ports": why_ports,
		},
	}
}
