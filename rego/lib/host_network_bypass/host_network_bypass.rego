# METADATA
# title: A host-network pod is not governed by network policy
# description: >-
#   A pod on the host network shares its node's addresses: Kubernetes NetworkPolicy never applies
#   to it, and Calico governs it only through host endpoint policy. Reported when no Calico
#   policy selects a host endpoint.
# custom:
#   id: host-network-bypass
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
#     exempt_namespaces: [kube-system]
package flowguard.lib.host_network_bypass

import data.flowguard.policy
import data.flowguard.report

id := "host-network-bypass"

violation contains v if {
	input.operation != "DELETE"
	obj := input.object
	not policy.controlled(obj)
	policy.host_network(obj)
	not report.exempt(id, obj.metadata.namespace)
	coverage := flowguard.covered(obj)
	count(coverage.host_endpoint_policies) == 0
	v := {
		"msg": sprintf("%s uses the host network: no NetworkPolicy applies to its pods and no Calico policy selects a host endpoint, so its traffic is ungoverned; drop hostNetwork or protect the nodes with host endpoint policy", [policy.describe(obj)]),
		"details": {"hostNetwork": true},
	}
}
