# METADATA
# title: No policy selects the workload
# description: >-
#   A workload that no NetworkPolicy (Kubernetes or Calico) selects for ingress accepts traffic
#   from every peer. With the egress parameter on, a workload no policy selects for egress is
#   reported too. Pods owned by a controller are judged through their owner. Host-network
#   workloads are left to host-network-bypass: no NetworkPolicy can select them, so the fix
#   this rule gives would not protect them.
# custom:
#   id: unprotected-workload
#   severity: medium
#   action: warn
#   targets:
#     - Pod
#     - Deployment
#     - StatefulSet
#     - DaemonSet
#     - ReplicaSet
#     - ReplicationController
#     - Job
#     - CronJob
#     - audit
#   parameters:
#     egress: false
#     exempt_namespaces: [kube-system, kube-public, kube-node-lease]
package flowguard.lib.unprotected_workload

import data.flowguard.policy
import data.flowguard.report

id := "unprotected-workload"

directions contains "ingress"

directions contains "egress" if report.parameter(id, "egress", false)

open_to := {"ingress": "accept traffic from every peer", "egress": "can reach every destination"}

violation contains v if {
	input.operation != "DELETE"
	obj := input.object
	not policy.controlled(obj)
	not policy.host_network(obj)
	not report.exempt(id, obj.metadata.namespace)
	coverage := flowguard.covered(obj)
	some direction in directions
	not coverage[direction]
	v := {
		"msg": sprintf("%s is not selected by any network policy for %s: its pods (%s) %s. Add a policy that selects them and allows only what they need, or a default deny in namespace %s (`flowguard recommend` writes both from observed traffic).", [
			policy.describe(obj), direction, policy.label_text(policy.pod_labels(obj)),
			open_to[direction], obj.metadata.namespace,
		]),
		"details": {"direction": direction, "labels": policy.pod_labels(obj)},
	}
}
