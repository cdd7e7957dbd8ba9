# METADATA
# title: A namespace has no default-deny policy
# description: >-
#   Without a policy that selects every pod of a namespace for ingress (and, with the egress
#   parameter on, for egress), a pod that no other policy selects is open. Kubernetes and Calico
#   policies both count. The fix is a default-deny NetworkPolicy.
# custom:
#   id: missing-default-deny
#   severity: medium
#   action: dryrun
#   targets: [audit]
#   subjects: [Namespace]
#   parameters:
#     egress: false
#     exempt_namespaces: [kube-system, kube-public, kube-node-lease]
package flowguard.lib.missing_default_deny

import data.flowguard.report

id := "missing-default-deny"

directions contains "ingress"

directions contains "egress" if report.parameter(id, "egress", false)

policy_type := {"ingress": "Ingress", "egress": "Egress"}

open_to := {"ingress": "accepts traffic from every peer", "egress": "can reach every destination"}

violation contains v if {
	ns := input.object.metadata.name
	not report.exempt(id, ns)
	denies := flowguard.default_deny(ns)
	some direction in directions
	count(denies[direction]) == 0
	v := {
		"msg": sprintf("Namespace %s has no default-deny for %s: a pod that no other policy selects %s. Apply the default deny in the fix together with allows for the traffic its pods need (`flowguard check` lists the flows it would cut; `flowguard recommend` writes the allows).", [ns, direction, open_to[direction]]),
		"details": {
			"direction": direction,
			"fix": {
				"apiVersion": "networking.k8s.io/v1",
				"kind": "NetworkPolicy",
				"metadata": {"name": sprintf("default-deny-%s", [direction]), "namespace": ns},
				"spec": {"podSelector": {}, "policyTypes": [policy_type[direction]]},
			},
		},
	}
}
