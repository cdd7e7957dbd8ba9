package flowguard.lib.unprotected_workload_test

import data.flowguard.lib.unprotected_workload

deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "api", "namespace": "shop"},
	"spec": {"template": {"metadata": {"labels": {"app": "api", "tier": "backend"}}}},
}

uncovered := {"ingress": false, "egress": false, "ingress_policies": [], "egress_policies": []}

ingress_only := {"ingress": true, "egress": false, "ingress_policies": ["NetworkPolicy shop/api"], "egress_policies": []}

test_uncovered_workload_is_warned if {
	vs := unprotected_workload.violation with input as {"operation": "CREATE", "object": deployment}
		with flowguard.covered as uncovered
	vs == {{
		"msg": "Deployment shop/api is not selected by any network policy for ingress: its pods (app=api,tier=backend) accept traffic from every peer. Add a policy that selects them and allows only what they need, or a default deny in namespace shop (`flowguard recommend` writes both from observed traffic).",
		"details": {"direction": "ingress", "labels": {"app": "api", "tier": "backend"}},
	}}
}

test_egress_is_reported_only_when_asked if {
	count(unprotected_workload.violation) == 0 with input as {"operation": "CREATE", "object": deployment}
		with flowguard.covered as ingress_only
	vs := unprotected_workload.violation with input as {"operation": "CREATE", "object": deployment}
		with flowguard.covered as ingress_only
		with data.flowguard.parameters as {"unprotected-workload": {"egress": true}}
	{v.details.direction | some v in vs} == {"egress"}
}

test_covered_workload_passes if {
	count(unprotected_workload.violation) == 0 with input as {"operation": "CREATE", "object": deployment}
		with flowguard.covered as {"ingress": true, "egress": true}
}

test_pods_of_a_controller_are_judged_through_it if {
	pod := {
		"apiVersion": "v1", "kind": "Pod",
		"metadata": {"name": "api-1", "namespace": "shop", "labels": {"app": "api"}, "ownerReferences": [{"kind": "ReplicaSet", "name": "api-7d9", "controller": true}]},
		"spec": {},
	}
	count(unprotected_workload.violation) == 0 with input as {"operation": "CREATE", "object": pod}
		with flowguard.covered as uncovered
}

test_exempt_namespace_passes if {
	obj := json.patch(deployment, [{"op": "replace", "path": "/metadata/namespace", "value": "kube-system"}])
	count(unprotected_workload.violation) == 0 with input as {"operation": "CREATE", "object": obj}
		with flowguard.covered as uncovered
		with data.flowguard.parameters as {"unprotected-workload": {"exempt_namespaces": ["kube-system"]}}
}

test_host_network_workloads_are_left_to_host_network_bypass if {
	obj := json.patch(deployment, [{"op": "add", "path": "/spec/template/spec", "value": {"hostNetwork": true}}])
	count(unprotected_workload.violation) == 0 with input as {"operation": "CREATE", "object": obj}
		with flowguard.covered as uncovered
}

test_a_pod_network_pod_is_judged if {
	pod := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "shop", "labels": {"run": "debug"}}, "spec": {"hostNetwork": false}}
	count(unprotected_workload.violation) == 1 with input as {"operation": "CREATE", "object": pod}
		with flowguard.covered as uncovered
}
