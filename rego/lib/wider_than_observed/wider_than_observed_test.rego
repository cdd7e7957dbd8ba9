package flowguard.lib.wider_than_observed_test

import data.flowguard.lib.wider_than_observed

policy(ingress) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	"metadata": {"name": "api", "namespace": "shop"},
	"spec": {"podSelector": {"matchLabels": {"app": "api"}}, "ingress": ingress},
}

narrowed := [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"protocol": "TCP", "port": 8080}]}]

usage(flows) := [{
	"direction": "ingress", "index": 0, "path": "spec.ingress[0]", "action": "Allow",
	"flows": flows, "selected_flows": flows, "last_seen": "2025-10-01T10:00:00Z",
	"peer_names": ["shop/web-*"], "opaque_peers": 0, "port_names": ["TCP/8080"], "narrowed": narrowed,
}]

test_allow_all_carrying_one_peer_on_one_port if {
	vs := wider_than_observed.violation with input as {"operation": "CREATE", "object": policy([{}])}
		with flowguard.rule_usage as usage(40)
		with data.flowguard.lookback as "24h"
	some v in vs
	v.msg == "NetworkPolicy shop/api: ingress rule spec.ingress[0] allows wide peers (no from peers are listed) and every port (no ports are listed), but in the last 24h carried only 40 connections from shop/web-* on TCP/8080; narrow it to the observed traffic (details.fix)"
	v.details.fix == narrowed
	v.details.allowed == {"peers": "wide peers (no from peers are listed)", "ports": "every port (no ports are listed)"}
}

test_every_namespace_on_the_observed_port if {
	rule := {"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 8080, "protocol": "TCP"}]}
	vs := wider_than_observed.violation with input as {"operation": "CREATE", "object": policy([rule])}
		with flowguard.rule_usage as usage(40)
	some v in vs
	v.details.allowed == {"peers": "wide peers (spec.ingress[0].from[0] selects every namespace)"}
}

test_rule_as_narrow_as_its_traffic_passes if {
	count(wider_than_observed.violation) == 0 with input as {"operation": "CREATE", "object": policy(narrowed)}
		with flowguard.rule_usage as usage(40)
}

test_unused_rule_is_left_to_unused_rule if {
	count(wider_than_observed.violation) == 0 with input as {"operation": "CREATE", "object": policy([{}])}
		with flowguard.rule_usage as usage(0)
}

test_public_peers_justify_wide_peers if {
	public := [object.union(usage(40)[0], {"peer_names": ["pub"], "opaque_peers": 1})]
	rule := {"ports": [{"port": 443, "protocol": "TCP"}]}
	count(wider_than_observed.violation) == 0 with input as {"operation": "CREATE", "object": policy([rule])}
		with flowguard.rule_usage as public
}
