package flowguard.lib.dangling_selector_test

import data.flowguard.lib.dangling_selector

web := {
	"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "frontnd"}}}]}]},
}

test_a_peer_selector_matching_nothing if {
	vs := dangling_selector.violation with input as {"operation": "CREATE", "object": web}
		with flowguard.selectors as [
			{"path": "spec.podSelector", "selector": "app=web", "what": "pods in namespace shop", "matches": 3},
			{"path": "spec.ingress[0].from[0].podSelector", "selector": "app=frontnd", "what": "pods in namespace shop", "matches": 0},
		]
	vs == {{
		"msg": "NetworkPolicy shop/web: spec.ingress[0].from[0].podSelector (app=frontnd) matches no pods in namespace shop: it allows nothing today, but whatever matches it later will be allowed. Fix the selector, or remove the peer.",
		"details": {"path": "spec.ingress[0].from[0].podSelector", "selector": "app=frontnd", "what": "pods in namespace shop"},
	}}
}

test_selectors_that_match_pass if {
	count(dangling_selector.violation) == 0 with input as {"operation": "CREATE", "object": web}
		with flowguard.selectors as [{"path": "spec.podSelector", "selector": "app=web", "what": "pods in namespace shop", "matches": 3}]
}

test_a_policy_selector_matching_nothing_leaves_the_policy_without_effect if {
	vs := dangling_selector.violation with input as {"operation": "CREATE", "object": web}
		with flowguard.selectors as [{"path": "spec.podSelector", "selector": "app=web", "what": "pods in namespace shop", "matches": 0}]
	{v.msg | some v in vs} == {"NetworkPolicy shop/web: spec.podSelector (app=web) matches no pods in namespace shop: the policy applies to nothing. Fix the selector, or delete the policy."}
}
