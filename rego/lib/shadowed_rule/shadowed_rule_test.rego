package flowguard.lib.shadowed_rule_test

import data.flowguard.lib.shadowed_rule

gnp := {
	"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
	"metadata": {"name": "edge"},
	"spec": {"selector": "all()", "ingress": [{"action": "Deny"}, {"action": "Allow", "protocol": "TCP"}]},
}

test_rule_after_a_catch_all_is_shadowed if {
	vs := shadowed_rule.violation with input as {"operation": "AUDIT", "object": gnp}
		with flowguard.shadowed as [{"direction": "ingress", "index": 1, "path": "spec.ingress[1]", "by": "GlobalNetworkPolicy edge spec.ingress[0]", "reason": "spec.ingress[0] (Deny) matches every packet this rule matches"}]
	vs == {{
		"msg": "GlobalNetworkPolicy edge: ingress rule spec.ingress[1] can never decide: spec.ingress[0] (Deny) matches every packet this rule matches. If it is meant to take effect, place it before GlobalNetworkPolicy edge spec.ingress[0]; otherwise remove it.",
		"details": {"direction": "ingress", "path": "spec.ingress[1]", "by": "GlobalNetworkPolicy edge spec.ingress[0]"},
	}}
}

test_no_shadowing_passes if {
	count(shadowed_rule.violation) == 0 with input as {"operation": "AUDIT", "object": gnp}
		with flowguard.shadowed as []
}
