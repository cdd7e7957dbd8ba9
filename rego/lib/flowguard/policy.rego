# Package flowguard.policy reads Kubernetes and Calico policies into one shape, so that rules
# reason about "a rule's peers and ports" once for every kind. User rules may import it.
package flowguard.policy

# is_calico is true for projectcalico.org objects.
is_calico(obj) if startswith(obj.apiVersion, "projectcalico.org/")

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
} if not is_calico(obj)

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
} if {
	is_calico(obj)
	peer := object.get(rule, calico_peer_field[direction], {})
}
