package flowguard.lib.missing_default_deny_test

import data.flowguard.lib.missing_default_deny

shop := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}

audit := {"operation": "AUDIT", "object": shop}

test_namespace_without_default_deny if {
	vs := missing_default_deny.violation with input as audit
		with flowguard.default_deny as {"ingress": [], "egress": []}
	some v in vs
	v.msg == "Namespace shop has no default-deny for ingress: a pod that no other policy selects accepts traffic from every peer. Apply the default deny in the fix together with allows for the traffic its pods need (`flowguard check` lists the flows it would cut; `flowguard recommend` writes the allows)."
	v.details.fix.spec == {"podSelector": {}, "policyTypes": ["Ingress"]}
	count(vs) == 1
}

test_egress_when_asked if {
	vs := missing_default_deny.violation with input as audit
		with flowguard.default_deny as {"ingress": ["NetworkPolicy shop/default-deny"], "egress": []}
		with data.flowguard.parameters as {"missing-default-deny": {"egress": true}}
	{v.details.direction | some v in vs} == {"egress"}
}

test_namespace_with_default_deny_passes if {
	count(missing_default_deny.violation) == 0 with input as audit
		with flowguard.default_deny as {"ingress": ["GlobalNetworkPolicy default-deny"], "egress": []}
}
