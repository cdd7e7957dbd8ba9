# METADATA
# title: An allow rule admits every peer on every port
# description: >-
#   A rule that allows traffic from (or to) anywhere on any port gives the policy no effect in
#   that direction: an empty from/to, 0.0.0.0/0 or ::/0, a namespaceSelector {} without a
#   podSelector, or a Calico rule with no source/destination restriction, with no ports.
# custom:
#   id: allow-all
#   severity: high
#   action: warn
#   targets:
#     - NetworkPolicy
#     - projectcalico.org/NetworkPolicy
#     - projectcalico.org/GlobalNetworkPolicy
#     - audit
package flowguard.lib.allow_all

import data.flowguard.policy

violation contains v if {
	some r in policy.allow_rules(input.object)
	why_peers := every_peer(r)
	why_ports := every_port(r)
	v := {
		"msg": sprintf("%s: %s rule %s admits every peer on every port (%s; %s)", [
			policy.describe(input.object), r.direction, r.path, why_peers, why_ports,
		]),
		"details": {
			"direction": r.direction,
			"path": r.path,
			"peers": why_peers,
			"ports": why_ports,
		},
	}
}

# every_peer explains why a rule's peers are everything, and is undefined otherwise.
every_peer(r) := sprintf("no %s peers are listed", [r.peer_field]) if {
	count(r.peers) == 0
	not r.calico
}

every_peer(r) := sprintf("%s.%s[%d] is %s", [r.path, r.peer_field, i, why]) if {
	not r.calico
	some i, p in r.peers
	why := open_k8s_peer(p)
}

every_peer(r) := sprintf("%s.%s has no selector, namespaceSelector, nets, serviceAccounts or services", [r.path, r.peer_field]) if {
	r.calico
	not restricted_calico_peer(r.peer)
}

every_peer(r) := sprintf("%s.%s.nets contains %s", [r.path, r.peer_field, cidr]) if {
	r.calico
	some cidr in object.get(r.peer, "nets", [])
	cidr in {"0.0.0.0/0", "::/0"}
	not object.get(r.peer, "notNets", false)
}

every_peer(r) := sprintf("%s.%s.namespaceSelector is all() with no selector", [r.path, r.peer_field]) if {
	r.calico
	trim_space(object.get(r.peer, "namespaceSelector", "")) == "all()"
	object.get(r.peer, "selector", "") in {"", "all()"}
	not object.get(r.peer, "nets", false)
}

open_k8s_peer(p) := sprintf("ipBlock %s with no except", [p.ipBlock.cidr]) if {
	p.ipBlock.cidr in {"0.0.0.0/0", "::/0"}
	count(object.get(p.ipBlock, "except", [])) == 0
}

open_k8s_peer(p) := "namespaceSelector {} with no podSelector (every pod in every namespace)" if {
	count(p.namespaceSelector) == 0
	not p.podSelector
}

restricted_calico_peer(peer) if {
	some field in {"selector", "notSelector", "namespaceSelector", "nets", "notNets", "serviceAccounts", "services"}
	peer[field]
}

# every_port explains why a rule's ports are every port, and is undefined otherwise.
every_port(r) := "no ports are listed" if {
	count(r.ports) == 0
	count(r.not_ports) == 0
}
