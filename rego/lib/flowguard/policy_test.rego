package flowguard.policy_test

import data.flowguard.policy
import data.flowguard.report

k8s(spec) := {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "shop"}, "spec": spec}

calico(spec) := {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "shop"}, "spec": spec}

# rule_text of the only rule of a policy.
text(obj) := t if {
	some r in policy.rules(obj)
	t := policy.rule_text(r)
}

test_rule_text_of_kubernetes_rules if {
	text(k8s({"ingress": [{}]})) == "from any peer on any port"
	text(k8s({"ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 8080}]}]})) == "from pods app=web on TCP/8080"
	text(k8s({"egress": [{
		"to": [{"namespaceSelector": {"matchLabels": {"team": "data"}}}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}],
		"ports": [{"port": 53, "protocol": "UDP"}, {"port": 8000, "endPort": 8080, "protocol": "TCP"}, {"protocol": "SCTP"}],
	}]})) == "to every pod in namespaces team=data or 10.0.0.0/8 except 10.9.0.0/16 on UDP/53, TCP/8000-8080, SCTP/any port"
	text(k8s({"ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}]}]})) == "from pods matching 1 expression in every namespace on any port"
	text(k8s({"ingress": [{"ports": [{"port": "http"}]}]})) == "from any peer on TCP/http"
}

test_rule_text_of_calico_rules if {
	text(calico({"ingress": [{"action": "Allow"}]})) == "from any peer on any port"
	text(calico({"ingress": [{"action": "Allow", "protocol": "TCP", "source": {"selector": "app == 'web'", "namespaceSelector": "team == 'shop'"}, "destination": {"ports": [443, "8000:8080"]}}]})) == "from endpoints where app == 'web' in namespaces where team == 'shop' on TCP/443, TCP/8000:8080"
	text(calico({"egress": [{"action": "Allow", "protocol": "UDP", "destination": {"nets": ["0.0.0.0/0"], "notNets": ["10.0.0.0/8"]}}]})) == "to 0.0.0.0/0 not 10.0.0.0/8 on UDP/any port"
	text(calico({"egress": [{"action": "Allow", "protocol": "TCP", "destination": {"notPorts": [22]}}]})) == "to any peer on not TCP/22"
}

test_subject_text if {
	policy.subject_text(k8s({"podSelector": {"matchLabels": {"app": "web", "tier": "front"}}})) == "pods app=web,tier=front"
	policy.subject_text(k8s({"podSelector": {}})) == "every pod in namespace shop"
	policy.subject_text(calico({"selector": "app == 'web'"})) == "endpoints where app == 'web'"
	policy.subject_text(calico({"selector": "all()"})) == "every endpoint it applies to"
}

test_replace_rule_splices_the_replacement_in if {
	obj := calico({"ingress": [{"action": "Deny"}, {"action": "Allow"}, {"action": "Log"}]})
	got := policy.replace_rule(object.union(obj, {"metadata": {"uid": "u"}}), "ingress", 1, [{"action": "Allow", "protocol": "TCP"}, {"action": "Allow", "protocol": "UDP"}])
	got == calico({"ingress": [{"action": "Deny"}, {"action": "Allow", "protocol": "TCP"}, {"action": "Allow", "protocol": "UDP"}, {"action": "Log"}]})
}

test_host_network if {
	policy.host_network({"kind": "Pod", "spec": {"hostNetwork": true}})
	not policy.host_network({"kind": "Pod", "spec": {}})
	policy.host_network({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostNetwork": true}}}}}})
}

test_peer_text_names_calico_networks if {
	report.peer_text("pub") == "the public internet (pub)"
	report.peer_text("pvt") == "private networks (pvt)"
	report.peer_text("shop/web-*") == "shop/web-*"
}

test_denied_by_names_each_decider_once if {
	deny := {"allowed": false, "reason": "rule", "action": "Deny", "tier": "default", "policy": "Calico NetworkPolicy shop/p", "rule": 0}
	end := {"allowed": false, "reason": "tier-default", "action": "Deny", "tier": "default", "policy": "NetworkPolicy shop/deny"}
	groups := [
		{"after": {"allowed": false, "ingress": deny, "egress": {"allowed": true}}},
		{"after": {"allowed": false, "ingress": deny, "egress": {"allowed": true}}},
		{"after": {"allowed": false, "ingress": {"allowed": true}, "egress": end}},
		{"flow": "no verdict"},
	]
	report.denied_by(groups) == "at egress by the end of tier default (no rule of the policies that select the source allows it; the last is NetworkPolicy shop/deny); at ingress by Calico NetworkPolicy shop/p spec.ingress[0] (Deny)"
	report.denied_clause([{"flow": "no verdict"}]) == ""
}
