package flowguard.lib.unused_rule_test

import data.flowguard.lib.unused_rule

web := {
	"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}, {}]},
}

usage(i, flows, selected) := {"direction": "ingress", "index": i, "path": sprintf("spec.ingress[%d]", [i]), "action": "Allow", "flows": flows, "selected_flows": selected}

test_rule_without_flows_is_reported if {
	vs := unused_rule.violation with input as {"operation": "AUDIT", "object": web}
		with flowguard.shadowed as []
		with flowguard.selectors as []
		with flowguard.rule_usage as [usage(0, 12, 12), usage(1, 0, 12)]
		with data.flowguard.lookback as "7d"
	vs == {{
		"msg": "NetworkPolicy shop/web: ingress rule spec.ingress[1] (from any peer on any port) matched no observed flow in the last 7d, while the pods it applies to received 12 connections. Remove it if nothing needs it any more; if something does, check that its peers exist and that their traffic is not decided earlier (by another rule, policy or tier).",
		"details": {"direction": "ingress", "path": "spec.ingress[1]", "selected_flows": 12},
	}}
}

test_rules_with_flows_pass if {
	count(unused_rule.violation) == 0 with input as {"operation": "AUDIT", "object": web}
		with flowguard.shadowed as []
		with flowguard.selectors as []
		with flowguard.rule_usage as [usage(0, 12, 12), usage(1, 3, 12)]
}

test_no_traffic_at_all_is_not_judged_by_default if {
	count(unused_rule.violation) == 0 with input as {"operation": "AUDIT", "object": web}
		with flowguard.shadowed as []
		with flowguard.selectors as []
		with flowguard.rule_usage as [usage(0, 0, 0)]
	count(unused_rule.violation) == 1 with input as {"operation": "AUDIT", "object": web}
		with flowguard.shadowed as []
		with flowguard.selectors as []
		with flowguard.rule_usage as [usage(0, 0, 0)]
		with data.flowguard.parameters as {"unused-rule": {"require_traffic": false}}
}

test_deny_rules_are_not_judged if {
	deny := object.union(usage(0, 0, 5), {"action": "Deny"})
	count(unused_rule.violation) == 0 with input as {"operation": "AUDIT", "object": web}
		with flowguard.shadowed as []
		with flowguard.selectors as []
		with flowguard.rule_usage as [deny]
}

legacy := {
	"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	"metadata": {"name": "cart", "namespace": "shop"},
	"spec": {"podSelector": {"matchLabels": {"app": "cart"}}, "ingress": [{"from": [
		{"podSelector": {"matchLabels": {"app": "legacy"}}},
		{"namespaceSelector": {"matchLabels": {"team": "gone"}}, "podSelector": {"matchLabels": {"app": "web"}}},
	]}]},
}

dangles(path) := {"path": path, "selector": "x", "what": "pods", "matches": 0}

test_a_rule_whose_every_peer_dangles_is_left_to_dangling_selector if {
	count(unused_rule.violation) == 0 with input as {"operation": "AUDIT", "object": legacy}
		with flowguard.shadowed as []
		with flowguard.selectors as [dangles("spec.ingress[0].from[0].podSelector"), dangles("spec.ingress[0].from[1].namespaceSelector")]
		with flowguard.rule_usage as [usage(0, 0, 12)]
}

test_a_rule_with_a_peer_that_exists_is_still_reported if {
	vs := unused_rule.violation with input as {"operation": "AUDIT", "object": legacy}
		with flowguard.shadowed as []
		with flowguard.selectors as [dangles("spec.ingress[0].from[0].podSelector")]
		with flowguard.rule_usage as [usage(0, 0, 12)]
	some v in vs
	contains(v.msg, "ingress rule spec.ingress[0] (from pods app=legacy or pods app=web in namespaces team=gone on any port) matched no observed flow")
}

test_a_shadowed_rule_is_left_to_shadowed_rule if {
	count(unused_rule.violation) == 0 with input as {"operation": "AUDIT", "object": web}
		with flowguard.shadowed as [{"direction": "ingress", "index": 1, "path": "spec.ingress[1]", "by": "x", "reason": "y"}]
		with flowguard.selectors as []
		with flowguard.rule_usage as [usage(0, 12, 12), usage(1, 0, 12)]
}
