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
	ports := listening(obj)
	v := {
		"msg": sprintf("%s uses the host network: its pods share their nodes' addresses%s, no NetworkPolicy applies to them and no Calico policy selects a host endpoint, so their traffic is ungoverned. Drop hostNetwork, or protect the nodes with host endpoint policy (HostEndpoints and a GlobalNetworkPolicy that selects them).", [policy.describe(obj), listen_text(ports)]),
		"details": {"hostNetwork": true, "ports": ports},
	}
}

# listening are the ports the pods' containers declare, which the node then serves: "TCP/9100 (metrics)".
listening(obj) := [text |
	some c in object.get(policy.pod_spec(obj), "containers", [])
	some p in object.get(c, "ports", [])
	text := port_text(p)
]

port_text(p) := sprintf("%s/%d (%s)", [object.get(p, "protocol", "TCP"), p.containerPort, p.name]) if p.name

else := sprintf("%s/%d", [object.get(p, "protocol", "TCP"), p.containerPort])

listen_text(ports) := sprintf(" and listen on them on %s", [concat(", ", ports)]) if count(ports) > 0

else := ""
