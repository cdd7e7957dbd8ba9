package flowguard.lib.staged_would_break_test

import data.flowguard.lib.staged_would_break

staged := {
	"apiVersion": "projectcalico.org/v3", "kind": "StagedNetworkPolicy",
	"metadata": {"name": "lockdown", "namespace": "shop"},
	"spec": {"selector": "app == 'api'", "types": ["Ingress"]},
}

broken := {
	"flow": "shop/web-* -> shop/api-*:8080/TCP", "count": 42, "last_seen": "2025-10-01T10:00:00Z",
	"after": {
		"allowed": false, "egress": {"allowed": true},
		"ingress": {"allowed": false, "reason": "rule", "action": "Deny", "tier": "default", "policy": "Calico NetworkPolicy shop/lockdown", "rule": 1},
	},
}

test_staged_policy_that_would_break if {
	vs := staged_would_break.violation with input as {"operation": "AUDIT", "object": staged}
		with flowguard.impact as {"broken": [broken], "broken_total": 1, "broken_flows": 42}
		with data.flowguard.lookback as "24h"
	{v.msg | some v in vs} == {"Calico StagedNetworkPolicy shop/lockdown, if enforced, would deny 1 observed flow (42 connections) allowed in the last 24h: shop/web-* -> shop/api-*:8080/TCP (42 connections, last seen 2025-10-01T10:00:00Z); denied at ingress by Calico NetworkPolicy shop/lockdown spec.ingress[1] (Deny). Add Allow rules for them before enforcing it, or leave it staged."}
}

test_harmless_staged_policy_passes if {
	count(staged_would_break.violation) == 0 with input as {"operation": "AUDIT", "object": staged}
		with flowguard.impact as {"broken": [], "broken_total": 0, "broken_flows": 0}
}
