package flowguard.lib.denied_traffic_test

import data.flowguard.lib.denied_traffic

shop := {"operation": "AUDIT", "object": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}}

probe := {"flow": "pub -> shop/db-*:5432/TCP", "count": 310, "last_seen": "2025-10-01T09:00:00Z"}

test_denied_flows_are_reported if {
	vs := denied_traffic.violation with input as shop
		with flowguard.flows as {"groups": [probe], "total": 1, "flows": 310}
		with data.flowguard.lookback as "24h"
	vs == {{
		"msg": "1 flow (310 connections) denied by policy in namespace shop in the last 24h, possible breakage or probing: pub -> shop/db-*:5432/TCP (310 connections, last seen 2025-10-01T09:00:00Z). Allow the ones that are expected, and find out why the sources of the others try to connect.",
		"details": {"total": 1, "connections": 310, "flows": [probe]},
	}}
}

test_the_builtin_is_asked_for_this_namespace_denials if {
	count(denied_traffic.violation) == 1 with input as shop
		with flowguard.flows as mock_flows
}

mock_flows(spec) := {"groups": [probe], "total": 1, "flows": 310} if {
	spec == {"namespace": "shop", "action": "deny", "direction": "any", "limit": 5}
} else := {"groups": [], "total": 0, "flows": 0}

test_no_denials_pass if {
	count(denied_traffic.violation) == 0 with input as shop
		with flowguard.flows as {"groups": [], "total": 0, "flows": 0}
}
