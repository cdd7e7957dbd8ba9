package flowguard.lib.host_network_bypass_test

import data.flowguard.lib.host_network_bypass

agent := {
	"apiVersion": "apps/v1", "kind": "DaemonSet",
	"metadata": {"name": "agent", "namespace": "monitoring"},
	"spec": {"template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"hostNetwork": true}}},
}

test_host_network_workload_without_host_endpoint_policy if {
	vs := host_network_bypass.violation with input as {"operation": "CREATE", "object": agent}
		with flowguard.covered as {"ingress": false, "egress": false, "host_endpoint_policies": []}
	{v.msg | some v in vs} == {"DaemonSet monitoring/agent uses the host network: no NetworkPolicy applies to its pods and no Calico policy selects a host endpoint, so its traffic is ungoverned; drop hostNetwork or protect the nodes with host endpoint policy"}
}

test_host_endpoint_policy_governs if {
	count(host_network_bypass.violation) == 0 with input as {"operation": "CREATE", "object": agent}
		with flowguard.covered as {"host_endpoint_policies": ["GlobalNetworkPolicy nodes"]}
}

test_pod_network_workload_passes if {
	obj := json.patch(agent, [{"op": "replace", "path": "/spec/template/spec/hostNetwork", "value": false}])
	count(host_network_bypass.violation) == 0 with input as {"operation": "CREATE", "object": obj}
		with flowguard.covered as {"host_endpoint_policies": []}
}
