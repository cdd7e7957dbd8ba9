package flowguard.lib.breaking_change_test

import data.flowguard.lib.breaking_change

deny_all := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "deny-all", "namespace": "shop"},
	"spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
}

group(src, dst, port, n) := {
	"flow": sprintf("%s -> %s:%d/TCP", [src, dst, port]),
	"count": n,
	"last_seen": "2025-10-01T10:00:00Z",
	"before": {"allowed": true},
	"after": {
		"allowed": false,
		"egress": {"allowed": true, "reason": "no-policy", "decided_by": "no policy selects this endpoint: Allow"},
		"ingress": {
			"allowed": false, "reason": "tier-default", "action": "Deny", "tier": "default", "policy": "NetworkPolicy shop/deny-all", "rule": -1,
			"decided_by": "[tier default] no rule matched in the policies selecting this endpoint (last: NetworkPolicy shop/deny-all): end-of-tier Deny",
		},
	},
}

two_broken := {
	"broken": [group("shop/frontend-*", "shop/api-*", 8080, 20), group("shop/worker-*", "shop/api-*", 8080, 4)],
	"broken_total": 2,
	"broken_flows": 24,
	"opened": [],
	"opened_total": 0,
}

nothing_broken := {"broken": [], "broken_total": 0, "broken_flows": 0, "opened": [], "opened_total": 0}

test_cutting_observed_flows_is_denied if {
	vs := breaking_change.violation with input as {"operation": "CREATE", "object": deny_all, "oldObject": null}
		with flowguard.impact as two_broken
		with data.flowguard.lookback as "24h"
	vs == {{
		"msg": "Creating NetworkPolicy shop/deny-all would deny 2 observed flows (24 connections) allowed in the last 24h: shop/frontend-* -> shop/api-*:8080/TCP (20 connections, last seen 2025-10-01T10:00:00Z), shop/worker-* -> shop/api-*:8080/TCP (4 connections, last seen 2025-10-01T10:00:00Z); denied at ingress by the end of tier default (no rule of the policies that select the destination allows it; the last is NetworkPolicy shop/deny-all). Allow them first if they are still needed.",
		"details": {"operation": "CREATE", "total": 2, "connections": 24, "flows": two_broken.broken},
	}}
}

test_the_first_few_and_the_total if {
	some v in breaking_change.violation with input as {"operation": "UPDATE", "object": deny_all, "oldObject": deny_all}
		with flowguard.impact as two_broken
		with data.flowguard.parameters as {"breaking-change": {"max_flows_listed": 1}}
	contains(v.msg, "shop/frontend-* -> shop/api-*:8080/TCP (20 connections, last seen 2025-10-01T10:00:00Z) and 1 more; denied at ingress")
	count(v.details.flows) == 1
	v.details.total == 2
}

test_deleting_names_the_old_object if {
	some v in breaking_change.violation with input as {"operation": "DELETE", "object": null, "oldObject": deny_all}
		with flowguard.impact as two_broken
	startswith(v.msg, "Deleting NetworkPolicy shop/deny-all would deny 2 observed flows")
}

test_a_change_that_breaks_nothing_passes if {
	count(breaking_change.violation) == 0 with input as {"operation": "CREATE", "object": deny_all, "oldObject": null}
		with flowguard.impact as nothing_broken
}

test_exempt_namespace_passes if {
	count(breaking_change.violation) == 0 with input as {"operation": "CREATE", "object": deny_all, "oldObject": null}
		with flowguard.impact as two_broken
		with data.flowguard.parameters as {"breaking-change": {"exempt_namespaces": ["shop"]}}
}

test_the_rule_that_would_deny_is_named_once if {
	some v in breaking_change.violation with input as {"operation": "CREATE", "object": deny_all, "oldObject": null}
		with flowguard.impact as {"broken": [egress_denied(8080), egress_denied(8443)], "broken_total": 2, "broken_flows": 2}
	contains(v.msg, "; denied at egress by GlobalNetworkPolicy security.block spec.egress[2] (Deny). Allow them first")
}

egress_denied(port) := object.union(group("shop/frontend-*", "shop/api-*", port, 1), {"after": {
	"allowed": false,
	"ingress": {"allowed": true},
	"egress": {"allowed": false, "reason": "rule", "action": "Deny", "tier": "security", "policy": "GlobalNetworkPolicy security.block", "rule": 2},
}})
