# Package flowguard.policy reads Kubernetes and Calico policies into one shape, so that rules
# reason about "a rule's peers and ports" once for every kind. User rules may import it.
package flowguard.policy

# is_calico is true for projectcalico.org objects.
is_calico(obj) if startswith(obj.apiVersion, "projectcalico.org/")

# is_admin is true for the Kubernetes admin policy kinds (AdminNetworkPolicy,
# BaselineAdminNetworkPolicy, ClusterNetworkPolicy).
is_admin(obj) if startswith(obj.apiVersion, "policy.networking.k8s.io/")

# describe names an object for messages: "NetworkPolicy shop/web", "Calico NetworkPolicy
# shop/web", "GlobalNetworkPolicy allow-dns", "Namespace shop".
describe(obj) := sprintf("%s %s", [kind_label(obj), name(obj)])

kind_label(obj) := sprintf("Calico %s", [obj.kind]) if {
	is_calico(obj)
	obj.kind in {"NetworkPolicy", "StagedNetworkPolicy", "NetworkSet"}
} else := obj.kind

name(obj) := sprintf("%s/%s", [ns, obj.metadata.name]) if {
	ns := object.get(obj.metadata, "namespace", "")
	ns != ""
} else := obj.metadata.name

# rules is every rule of a Kubernetes or Calico policy, as objects:
#   direction   "ingress" or "egress"
#   index       position in spec.ingress / spec.egress
#   path        "spec.ingress[0]"
#   action      "Allow" for every Kubernetes rule, the Calico rule's action otherwise
#   calico      whether Calico semantics apply
#   peer_field  "from"/"to" (Kubernetes) or "source"/"destination" (Calico)
#   peers       Kubernetes: the from/to list; Calico: [the source/destination object]
#   peer        Calico only: the source (ingress) or destination (egress) object
#   ports       the ports list (Kubernetes ports; Calico destination.ports)
#   not_ports   Calico destination.notPorts
#   protocol    Calico: the rule's protocol ("" when it has none); Kubernetes: ""
#   admin       whether the admin policy kinds' shape applies (peers: from/to entries of
#               namespaces, pods, networks; ports: ports or protocols); Accept reads as Allow
rules(obj) := {r |
	some direction in {"ingress", "egress"}
	some i, rule in object.get(obj.spec, direction, [])
	r := normalise(obj, direction, i, rule)
}

# allow_rules is the subset of rules that allow.
allow_rules(obj) := {r | some r in rules(obj); r.action == "Allow"}

k8s_peer_field := {"ingress": "from", "egress": "to"}

calico_peer_field := {"ingress": "source", "egress": "destination"}

normalise(obj, direction, i, rule) := {
	"direction": direction,
	"index": i,
	"path": sprintf("spec.%s[%d]", [direction, i]),
	"action": "Allow",
	"calico": false,
	"peer_field": k8s_peer_field[direction],
	"peers": object.get(rule, k8s_peer_field[direction], []),
	"peer": {},
	"ports": object.get(rule, "ports", []),
	"not_ports": [],
	"protocol": "",
	"admin": false,
} if {
	not is_calico(obj)
	not is_admin(obj)
}

normalise(obj, direction, i, rule) := {
	"direction": direction,
	"index": i,
	"path": sprintf("spec.%s[%d]", [direction, i]),
	"action": admin_action(rule.action),
	"calico": false,
	"admin": true,
	"peer_field": k8s_peer_field[direction],
	"peers": object.get(rule, k8s_peer_field[direction], []),
	"peer": {},
	"ports": object.get(rule, "ports", object.get(rule, "protocols", [])),
	"not_ports": [],
	"protocol": "",
} if is_admin(obj)

admin_action("Accept") := "Allow"

admin_action(a) := a if a != "Accept"

normalise(obj, direction, i, rule) := {
	"direction": direction,
	"index": i,
	"path": sprintf("spec.%s[%d]", [direction, i]),
	"action": rule.action,
	"calico": true,
	"peer_field": calico_peer_field[direction],
	"peers": [peer],
	"peer": peer,
	"ports": object.get(rule, ["destination", "ports"], []),
	"not_ports": object.get(rule, ["destination", "notPorts"], []),
	"protocol": object.get(rule, "protocol", ""),
	"admin": false,
} if {
	is_calico(obj)
	peer := object.get(rule, calico_peer_field[direction], {})
}

# rule_text describes a normalised rule's peers and ports for messages: "from pods app=web in
# namespaces team=shop on TCP/8080", "to 10.0.0.0/8 on any port".
rule_text(r) := sprintf("%s %s on %s", [peer_word[r.direction], peers_text(r), ports_text(r)])

peer_word := {"ingress": "from", "egress": "to"}

peers_text(r) := "any peer" if {
	not r.calico
	count(r.peers) == 0
} else := concat(" or ", [k8s_peer_text(p) | some p in r.peers]) if {
	not r.calico
} else := calico_peer_text(r.peer)

k8s_peer_text(p) := sprintf("%s except %s", [p.ipBlock.cidr, concat(", ", p.ipBlock.except)]) if {
	count(object.get(p.ipBlock, "except", [])) > 0
} else := p.ipBlock.cidr if {
	p.ipBlock
} else := sprintf("%s in %s", [
	selection_text("pods", "every pod", object.get(p, "podSelector", {})),
	selection_text("namespaces", "every namespace", p.namespaceSelector),
]) if {
	p.namespaceSelector
} else := selection_text("pods", "every pod", object.get(p, "podSelector", {}))

# selection_text describes a label selector: "pods app=web", "pods app=web and matching 1 expression".
selection_text(what, all, sel) := all if {
	count(object.get(sel, "matchLabels", {})) == 0
	count(object.get(sel, "matchExpressions", [])) == 0
} else := sprintf("%s %s", [what, concat(" and ", array.concat(
	[label_text(object.get(sel, "matchLabels", {})) | count(object.get(sel, "matchLabels", {})) > 0],
	[sprintf("matching %d %s", [n, expression_word(n)]) | n := count(object.get(sel, "matchExpressions", [])); n > 0],
))])

expression_word(1) := "expression"

expression_word(n) := "expressions" if n != 1

calico_peer_text(peer) := "any peer" if {
	count([k | some k, _ in peer; not k in {"ports", "notPorts"}]) == 0
} else := concat(" ", [part |
	some field in ["selector", "notSelector", "namespaceSelector", "serviceAccounts", "services", "nets", "notNets"]
	peer[field]
	part := calico_part(field, peer[field])
])

calico_part("selector", v) := sprintf("endpoints where %s", [v])

calico_part("notSelector", v) := sprintf("endpoints where not (%s)", [v])

calico_part("namespaceSelector", v) := sprintf("in namespaces where %s", [v])

calico_part("serviceAccounts", v) := sprintf("with service accounts %s", [json.marshal(v)])

calico_part("services", v) := sprintf("behind service %s", [json.marshal(v)])

calico_part("nets", v) := concat(", ", v)

calico_part("notNets", v) := sprintf("not %s", [concat(", ", v)])

# ports_text describes a normalised rule's ports: "TCP/8080, UDP/53", "TCP/any port", "any port".
ports_text(r) := "any port" if {
	count(r.ports) == 0
	count(r.not_ports) == 0
	r.protocol == ""
} else := sprintf("%v/any port", [r.protocol]) if {
	count(r.ports) == 0
	count(r.not_ports) == 0
} else := concat(", ", array.concat(
	[port_text(r, p) | some p in r.ports],
	[sprintf("not %s", [port_text(r, p)]) | some p in r.not_ports],
))

port_text(r, p) := sprintf("%v/%v", [r.protocol, p]) if r.calico

port_text(r, p) := sprintf("%s/%v-%v", [object.get(p, "protocol", "TCP"), p.port, p.endPort]) if {
	not r.calico
	p.endPort
} else := sprintf("%s/%v", [object.get(p, "protocol", "TCP"), p.port]) if {
	not r.calico
	p.port
} else := sprintf("%s/any port", [object.get(p, "protocol", "TCP")]) if not r.calico

# subject_text names what a policy applies to: "pods app=web", "every pod in namespace shop",
# "endpoints where app == 'web'".
subject_text(obj) := "the pods of its subject" if {
	is_admin(obj)
} else := sprintf("every pod in namespace %s", [obj.metadata.namespace]) if {
	not is_calico(obj)
	selection_text("pods", "", obj.spec.podSelector) == ""
} else := selection_text("pods", "", obj.spec.podSelector) if {
	not is_calico(obj)
} else := sprintf("endpoints where %s", [obj.spec.selector]) if {
	trim_space(object.get(obj.spec, "selector", "")) != ""
	trim_space(obj.spec.selector) != "all()"
} else := "every endpoint it applies to"

# every_peer explains why a normalised rule admits every peer, and is undefined otherwise.
every_peer(r) := concat("; ", sort(reasons)) if {
	reasons := open_peers(r)
	count(reasons) > 0
}

# every_port explains why a normalised rule admits every port, and is undefined otherwise.
every_port(r) := "no ports are listed" if {
	count(r.ports) == 0
	count(r.not_ports) == 0
}

# wide_peers explains why a rule's peers are far wider than a few workloads: every peer, every
# namespace, or an address block of prefix length max_prefix or shorter. Undefined otherwise.
wide_peers(r, max_prefix) := concat("; ", sort(reasons)) if {
	reasons := (open_peers(r) | every_namespace_peers(r)) | wide_cidr_peers(r, max_prefix)
	count(reasons) > 0
}

# open_peers are the reasons a rule admits every peer.
open_peers(r) := {sprintf("no %s peers are listed", [r.peer_field])} if {
	not r.calico
	not r.admin
	count(r.peers) == 0
} else := {sprintf("%s.%s[%d] is %s", [r.path, r.peer_field, i, why]) |
	some i, p in r.peers
	why := open_k8s_peer(p)
} if {
	not r.calico
	not r.admin
}

open_peers(r) := {sprintf("%s.%s[%d] is %s", [r.path, r.peer_field, i, why]) |
	some i, p in r.peers
	why := open_admin_peer(p)
} if r.admin

open_admin_peer(p) := "namespaces {} (every pod in every namespace)" if {
	count(p.namespaces) == 0
} else := sprintf("networks %s", [cidr]) if {
	some cidr in object.get(p, "networks", [])
	cidr in {"0.0.0.0/0", "::/0"}
}

open_peers(r) := {sprintf("%s.%s has no selector, namespaceSelector, nets, serviceAccounts or services", [r.path, r.peer_field])} if {
	r.calico
	not restricted_calico_peer(r.peer, set())
} else := {sprintf("%s.%s.nets contains %s", [r.path, r.peer_field, cidr]) |
	some cidr in object.get(r.peer, "nets", [])
	cidr in {"0.0.0.0/0", "::/0"}
	not restricted_calico_peer(r.peer, {"nets"})
} | {sprintf("%s.%s.namespaceSelector is all() with no selector", [r.path, r.peer_field]) |
	trim_space(object.get(r.peer, "namespaceSelector", "")) == "all()"
	not restricted_calico_peer(r.peer, {"namespaceSelector"})
} if {
	r.calico
}

open_k8s_peer(p) := sprintf("ipBlock %s with no except", [p.ipBlock.cidr]) if {
	p.ipBlock.cidr in {"0.0.0.0/0", "::/0"}
	count(object.get(p.ipBlock, "except", [])) == 0
} else := "namespaceSelector {} with no podSelector (every pod in every namespace)" if {
	count(p.namespaceSelector) == 0
	not p.podSelector
}

# restricted_calico_peer is true when a Calico source/destination restricts its peers by a field
# other than those in ignored.
restricted_calico_peer(peer, ignored) if {
	some field in {"selector", "notSelector", "namespaceSelector", "nets", "notNets", "serviceAccounts", "services"}
	not field in ignored
	peer[field]
}

every_namespace_peers(r) := {sprintf("%s.%s[%d] selects every namespace", [r.path, r.peer_field, i]) |
	not r.calico
	some i, p in r.peers
	count(p.namespaceSelector) == 0
	p.podSelector
} | {sprintf("%s.%s.namespaceSelector is all()", [r.path, r.peer_field]) |
	r.calico
	trim_space(object.get(r.peer, "namespaceSelector", "")) == "all()"
}

wide_cidr_peers(r, max_prefix) := {sprintf("%s admits %s", [r.path, cidr]) |
	some cidr in peer_cidrs(r)
	to_number(split(cidr, "/")[1]) <= max_prefix
}

peer_cidrs(r) := {p.ipBlock.cidr | some p in r.peers; p.ipBlock.cidr} if not r.calico

peer_cidrs(r) := {c | some c in object.get(r.peer, "nets", [])} if r.calico

# replace_rule is the policy with the rule at spec.<direction>[index] replaced by the list of
# rules in replacement, keeping only the metadata that names it: a manifest to apply.
replace_rule(obj, direction, index, replacement) := {
	"apiVersion": obj.apiVersion,
	"kind": obj.kind,
	"metadata": {k: v | some k in {"name", "namespace", "labels"}; v := obj.metadata[k]},
	"spec": object.union(obj.spec, {direction: array.concat(
		array.concat(array.slice(obj.spec[direction], 0, index), replacement),
		array.slice(obj.spec[direction], index + 1, count(obj.spec[direction])),
	)}),
}

# pod_spec is the pod spec of a Pod or of a pod-template workload.
pod_spec(obj) := obj.spec if obj.kind == "Pod"

pod_spec(obj) := obj.spec.jobTemplate.spec.template.spec if obj.kind == "CronJob"

pod_spec(obj) := obj.spec.template.spec if not obj.kind in {"Pod", "CronJob"}

# pod_labels are the labels of a Pod or of a workload's pod template.
pod_labels(obj) := object.get(obj.metadata, "labels", {}) if obj.kind == "Pod"

pod_labels(obj) := object.get(obj.spec.jobTemplate.spec.template.metadata, "labels", {}) if obj.kind == "CronJob"

pod_labels(obj) := object.get(obj.spec.template.metadata, "labels", {}) if not obj.kind in {"Pod", "CronJob"}

# host_network is true for a Pod or pod-template workload whose pods use their node's network
# namespace: NetworkPolicy never applies to them, only Calico host endpoint policy.
host_network(obj) if pod_spec(obj).hostNetwork == true

# controlled is true for objects a controller owns (a ReplicaSet's pods, a Deployment's
# ReplicaSets): rules judge the owner instead, once.
controlled(obj) if {
	some ref in object.get(obj.metadata, "ownerReferences", [])
	ref.controller == true
}

# label_text prints labels as "k=v,k2=v2", sorted by key.
label_text(labels) := concat(",", [sprintf("%s=%s", [k, labels[k]]) | some k in sort(object.keys(labels))])
