package flowguard.lib.wider_than_observed_test

import data.flowguard.lib.wider_than_observed

policy(ingress) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	"metadata": {"name": "api", "namespace": "shop"},
	"spec": {"podSelector": {"matchLabels": {"app": "api"}}, "ingress": ingress},
}

narrowed := {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"protocol": "TCP", "port": 8080}]}

usage(flows) := [{
	"direction": "ingress", "index": 0, "path": "spec.ingress[0]", "action": "Allow",
	"flows": flows, "selected_flows": flows, "last_seen": "2025-10-01T10:00:00Z",
	"peer_names": ["shop/web-*"], "opaque_peers": 0, "port_names": ["TCP/8080"], "narrowed": [narrowed],
}]

test_allow_all_carrying_one_peer_on_one_port if {
	vs := wider_than_observed.violation with input as {"operation": "CREATE", "object": policy([{}])}
		with flowguard.rule_usage as usage(40)
		with data.flowguard.lookback as "24h"
	some v in vs
	v.msg == "NetworkPolicy shop/api: ingress rule spec.ingress[0] allows wide peers (no from peers are listed) and every port (no ports are listed), but in the last 24h carried only 40 connections from shop/web-* on TCP/8080 (last seen 2025-10-01T10:00:00Z). Narrow it to those peers and ports: the fix has the narrowed rule."
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
	count(wider_than_observed.violation) == 0 with input as {"operation": "CREATE", "object": policy([narrowed])}
		with flowguard.rule_usage as usage(40)
}

test_unused_rule_is_left_to_unused_rule if {
	count(wider_than_observed.violation) == 0 with input as {"operation": "CREATE", "object": policy([{}])}
		with flowguard.rule_usage as usage(0)
}

# The public internet (pub) justifies wide peers, but every port where one was used is still
# reported, and the fix is the rule narrowed to the internet's address space on that port.
public_narrowed := {
	"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
	"ports": [{"protocol": "TCP", "port": 443}],
}

public_usage := [object.union(usage(40)[0], {"peer_names": ["pub"], "opaque_peers": 1, "port_names": ["TCP/443"], "narrowed": [public_narrowed]})]

test_public_peers_justify_wide_peers if {
	rule := {"ports": [{"port": 443, "protocol": "TCP"}]}
	count(wider_than_observed.violation) == 0 with input as {"operation": "CREATE", "object": policy([rule])}
		with flowguard.rule_usage as public_usage
}

test_public_peer_on_every_port_carries_the_narrowed_rule if {
	vs := wider_than_observed.violation with input as {"operation": "AUDIT", "object": policy([{}])}
		with flowguard.rule_usage as public_usage
		with data.flowguard.lookback as "24h"
	some v in vs
	v.details.allowed == {"ports": "every port (no ports are listed)"}
	v.details.fix == public_narrowed
	contains(v.msg, "carried only 40 connections from the public internet (pub) on TCP/443 (last seen 2025-10-01T10:00:00Z)")
}

test_egress_traffic_goes_to_its_peers if {
	egress := {
		"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
		"metadata": {"name": "api", "namespace": "shop"},
		"spec": {"podSelector": {"matchLabels": {"app": "api"}}, "egress": [{}]},
	}
	u := object.union(public_usage[0], {"direction": "egress", "path": "spec.egress[0]", "peer_names": ["pvt"]})
	some v in wider_than_observed.violation with input as {"operation": "AUDIT", "object": egress}
		with flowguard.rule_usage as [u]
	contains(v.msg, "carried only 40 connections to private networks (pvt) on TCP/443")
}

# A Calico rule narrows to one rule per peer and protocol; when that takes several, the fix is
# the whole policy with the rule replaced by them.
test_calico_rule_narrowed_to_several_rules_is_fixed_by_the_whole_policy if {
	gnp := {
		"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
		"metadata": {"name": "edge", "namespace": "shop", "resourceVersion": "7", "uid": "u-1"},
		"spec": {"selector": "app == 'edge'", "ingress": [
			{"action": "Deny", "source": {"nets": ["198.51.100.0/24"]}},
			{"action": "Allow"},
			{"action": "Deny"},
		]},
	}
	tcp := {"action": "Allow", "protocol": "TCP", "source": {"nets": ["0.0.0.0/0"], "notNets": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}, "destination": {"ports": [443]}}
	udp := {"action": "Allow", "protocol": "UDP", "source": {"nets": ["0.0.0.0/0"], "notNets": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}, "destination": {"ports": [443]}}
	u := object.union(public_usage[0], {"index": 1, "path": "spec.ingress[1]", "port_names": ["TCP/443", "UDP/443"], "narrowed": [tcp, udp]})
	some v in wider_than_observed.violation with input as {"operation": "AUDIT", "object": gnp}
		with flowguard.rule_usage as [u]
	v.details.fix == {
		"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
		"metadata": {"name": "edge", "namespace": "shop"},
		"spec": {"selector": "app == 'edge'", "ingress": [gnp.spec.ingress[0], tcp, udp, gnp.spec.ingress[2]]},
	}
}
