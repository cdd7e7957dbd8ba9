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
	{v.msg | some v in vs} == {"DaemonSet monitoring/agent uses the host network: its pods share their nodes' addresses, no NetworkPolicy applies to them and no Calico policy selects a host endpoint, so their traffic is ungoverned. Drop hostNetwork, or protect the nodes with host endpoint policy (HostEndpoints and a GlobalNetworkPolicy that selects them)."}
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

test_the_ports_the_node_then_serves_are_named if {
	obj := json.patch(agent, [{"op": "add", "path": "/spec/template/spec/containers", "value": [
		{"name": "agent", "ports": [{"name": "metrics", "containerPort": 9100}, {"containerPort": 8125, "protocol": "UDP"}]},
		{"name": "sidecar"},
	]}])
	some v in host_network_bypass.violation with input as {"operation": "CREATE", "object": obj}
		with flowguard.covered as {"host_endpoint_policies": []}
	contains(v.msg, "its pods share their nodes' addresses and listen on them on TCP/9100 (metrics), UDP/8125, no NetworkPolicy")
	v.details.ports == ["TCP/9100 (metrics)", "UDP/8125"]
}
