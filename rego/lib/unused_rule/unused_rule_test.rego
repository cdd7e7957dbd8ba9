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
		with flowguard.rule_usage as [usage(0, 12, 12), usage(1, 0, 12)]
		with data.flowguard.lookback as "7d"
	vs == {{
		"msg": "NetworkPolicy shop/web: ingress rule spec.ingress[1] matched no observed flow in the last 7d (12 connections reached the endpoints it protects); remove it, or check that its peers still exist",
		"details": {"direction": "ingress", "path": "spec.ingress[1]", "selected_flows": 12},
	}}
}

test_rules_with_flows_pass if {
	count(unused_rule.violation) == 0 with input as {"operation": "AUDIT", "object": web}
		with flowguard.rule_usage as [usage(0, 12, 12), usage(1, 3, 12)]
}

test_no_traffic_at_all_is_not_judged_by_default if {
	count(unused_rule.violation) == 0 with input as {"operation": "AUDIT", "object": web}
		with flowguard.rule_usage as [usage(0, 0, 0)]
	count(unused_rule.violation) == 1 with input as {"operation": "AUDIT", "object": web}
		with flowguard.rule_usage as [usage(0, 0, 0)]
		with data.flowguard.parameters as {"unused-rule": {"require_traffic": false}}
}

test_deny_rules_are_not_judged if {
	deny := object.union(usage(0, 0, 5), {"action": "Deny"})
	count(unused_rule.violation) == 0 with input as {"operation": "AUDIT", "object": web}
		with flowguard.rule_usage as [deny]
}
