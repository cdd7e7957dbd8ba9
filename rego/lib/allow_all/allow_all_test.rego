package flowguard.lib.allow_all_test

import data.flowguard.lib.allow_all

k8s_policy(spec) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": object.union({"podSelector": {"matchLabels": {"app": "web"}}}, spec),
}

calico_policy(kind, spec) := {
	"apiVersion": "projectcalico.org/v3",
	"kind": kind,
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": spec,
}

review(obj) := {"operation": "CREATE", "object": obj}

msgs(obj) := {v.msg | some v in allow_all.violation with input as review(obj)}

test_empty_ingress_rule_admits_everything if {
	msgs(k8s_policy({"ingress": [{}]})) == {"NetworkPolicy shop/web: ingress rule spec.ingress[0] admits every peer on every port (no from peers are listed; no ports are listed). Restrict it to the peers and ports pods app=web need (`flowguard recommend` learns them from observed traffic)."}
}

test_world_cidr_on_every_port if {
	obj := k8s_policy({"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})
	msgs(obj) == {"NetworkPolicy shop/web: egress rule spec.egress[0] admits every peer on every port (spec.egress[0].to[0] is ipBlock 0.0.0.0/0 with no except; no ports are listed). Restrict it to the peers and ports pods app=web need (`flowguard recommend` learns them from observed traffic)."}
}

test_every_namespace_without_pod_selector if {
	obj := k8s_policy({"ingress": [{"from": [{"namespaceSelector": {}}]}]})
	some v in allow_all.violation with input as review(obj)
	v.details.peers == "spec.ingress[0].from[0] is namespaceSelector {} with no podSelector (every pod in every namespace)"
}

test_calico_rule_without_restrictions if {
	obj := calico_policy("GlobalNetworkPolicy", {"selector": "all()", "ingress": [{"action": "Allow"}]})
	count(msgs(obj)) == 1
	some v in allow_all.violation with input as review(obj)
	v.details.path == "spec.ingress[0]"
}

test_calico_ipv6_world if {
	obj := calico_policy("NetworkPolicy", {"egress": [{"action": "Allow", "destination": {"nets": ["::/0"]}}]})
	msgs(obj) == {"Calico NetworkPolicy shop/web: egress rule spec.egress[0] admits every peer on every port (spec.egress[0].destination.nets contains ::/0; no ports are listed). Restrict it to the peers and ports every endpoint it applies to need (`flowguard recommend` learns them from observed traffic)."}
}

test_a_port_restriction_is_not_allow_all if {
	count(msgs(k8s_policy({"ingress": [{"ports": [{"port": 443, "protocol": "TCP"}]}]}))) == 0
}

test_a_peer_restriction_is_not_allow_all if {
	count(msgs(k8s_policy({"ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}]}]}))) == 0
}

test_namespace_selector_with_pod_selector_is_not_allow_all if {
	obj := k8s_policy({"ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "api"}}}]}]})
	count(msgs(obj)) == 0
}

test_world_cidr_with_except_is_not_allow_all if {
	obj := k8s_policy({"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}]})
	count(msgs(obj)) == 0
}

test_calico_deny_rule_is_not_an_allow if {
	count(msgs(calico_policy("NetworkPolicy", {"ingress": [{"action": "Deny"}]}))) == 0
}

test_calico_destination_ports_restrict if {
	obj := calico_policy("NetworkPolicy", {"ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [443]}}]})
	count(msgs(obj)) == 0
}

test_default_deny_policy_has_no_rules if {
	count(msgs(k8s_policy({"policyTypes": ["Ingress"]}))) == 0
}

test_the_message_names_what_the_policy_applies_to if {
	every_pod := json.patch(k8s_policy({"ingress": [{}]}), [{"op": "replace", "path": "/spec/podSelector", "value": {}}])
	some m in msgs(every_pod)
	contains(m, "the peers and ports every pod in namespace shop need")
	calico := calico_policy("GlobalNetworkPolicy", {"selector": "role == 'edge'", "ingress": [{"action": "Allow"}]})
	some c in msgs(calico)
	contains(c, "the peers and ports endpoints where role == 'edge' need")
}

admin_policy(kind, spec) := {
	"apiVersion": "policy.networking.k8s.io/v1alpha1",
	"kind": kind,
	"metadata": {"name": "open"},
	"spec": object.union({"priority": 10, "subject": {"namespaces": {}}}, spec),
}

test_admin_allow_from_every_namespace if {
	obj := admin_policy("AdminNetworkPolicy", {"ingress": [{"action": "Allow", "from": [{"namespaces": {}}]}]})
	msgs(obj) == {"AdminNetworkPolicy open: ingress rule spec.ingress[0] admits every peer on every port (spec.ingress[0].from[0] is namespaces {} (every pod in every namespace); no ports are listed). Restrict it to the peers and ports the pods of its subject need (`flowguard recommend` learns them from observed traffic)."}
}

test_cluster_network_policy_accept_to_the_world if {
	obj := object.union(admin_policy("ClusterNetworkPolicy", {"tier": "Admin", "egress": [{"action": "Accept", "to": [{"networks": ["0.0.0.0/0"]}]}]}), {"apiVersion": "policy.networking.k8s.io/v1alpha2"})
	some v in allow_all.violation with input as review(obj)
	v.details.peers == "spec.egress[0].to[0] is networks 0.0.0.0/0"
}

test_admin_deny_or_narrow_allow_is_fine if {
	count(msgs(admin_policy("AdminNetworkPolicy", {"ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}))) == 0
	count(msgs(admin_policy("AdminNetworkPolicy", {"ingress": [{"action": "Allow", "from": [{"namespaces": {"matchLabels": {"team": "a"}}}]}]}))) == 0
	count(msgs(admin_policy("AdminNetworkPolicy", {"ingress": [{"action": "Allow", "from": [{"namespaces": {}}], "ports": [{"portNumber": {"protocol": "TCP", "port": 53}}]}]}))) == 0
}
