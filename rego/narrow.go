package rego

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// narrowRule rewrites one allow rule to admit only the observed traffic: the peers seen
// (workloads by their key labels and namespace, addresses as /32 or /128, Calico's aggregated
// "pub" and "pvt" networks as the address space they stand for, cut to what the rule admitted)
// and the ports used, in the policy's own syntax. Peers that cannot be named narrower than the
// rule does (network sets, hosts) keep the rule's own peer fields. Kubernetes gives one rule;
// Calico, one rule per peer and protocol, since a Calico rule has one of each.
func narrowRule(p *netpol.Policy, dir netpol.Direction, orig map[string]any, names []string, peers map[string]*flows.Endpoint, ports []portUse) []map[string]any {
	if p.Kubernetes {
		return []map[string]any{narrowKubernetes(p, dir, orig, names, peers, ports)}
	}
	return narrowCalico(p, dir, orig, names, peers, ports)
}

func narrowKubernetes(p *netpol.Policy, dir netpol.Direction, orig map[string]any, names []string, peers map[string]*flows.Endpoint, ports []portUse) map[string]any {
	field := "from"
	if dir == netpol.Egress {
		field = "to"
	}
	rule := map[string]any{}
	var list []any
	seen := map[string]bool{}
	narrowable := true
	for _, name := range names {
		e := peers[name]
		var found []map[string]any
		switch {
		case e.Type == flows.TypeWorkload:
			peer := map[string]any{"podSelector": map[string]any{"matchLabels": anyMap(keyLabels(e.Labels))}}
			if e.Namespace != p.Ref.Namespace {
				peer["namespaceSelector"] = map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": e.Namespace}}
			}
			found = append(found, peer)
		case e.IP.IsValid():
			found = append(found, map[string]any{"ipBlock": map[string]any{"cidr": hostCIDR(e)}})
		case e.Type == flows.TypeNetwork:
			for _, b := range cutToRule(networkBlocks(e.Name), k8sRuleBlocks(orig[field])) {
				found = append(found, map[string]any{"ipBlock": b.k8s()})
			}
		}
		if len(found) == 0 {
			narrowable = false
		}
		for _, peer := range found {
			if key := fmt.Sprint(peer); !seen[key] {
				seen[key] = true
				list = append(list, peer)
			}
		}
	}
	if narrowable {
		rule[field] = list
	} else if v, ok := orig[field]; ok {
		rule[field] = v
	}
	if ps := k8sPorts(ports); len(ps) > 0 {
		rule["ports"] = ps
	}
	return rule
}

// k8sPorts lists the ports used, a protocol alone where its port is unknown (aggregated away).
// A protocol a Kubernetes rule cannot name (ICMP) leaves the ports unrestricted, so that the
// narrowed rule still admits every observed flow.
func k8sPorts(ports []portUse) []any {
	anyPort := map[flows.Protocol]bool{}
	for _, pu := range ports {
		switch pu.proto {
		case flows.ProtoTCP, flows.ProtoUDP, flows.ProtoSCTP:
		default:
			return nil
		}
		anyPort[pu.proto] = anyPort[pu.proto] || pu.port == 0
	}
	var ps []any
	for _, pu := range ports {
		switch {
		case !anyPort[pu.proto]:
			ps = append(ps, map[string]any{"protocol": protoName(pu.proto), "port": int64(pu.port)})
		case pu.port == 0:
			ps = append(ps, map[string]any{"protocol": protoName(pu.proto)})
		}
	}
	return ps
}

func narrowCalico(p *netpol.Policy, dir netpol.Direction, orig map[string]any, names []string, peers map[string]*flows.Endpoint, ports []portUse) []map[string]any {
	peerField := "source"
	if dir == netpol.Egress {
		peerField = "destination"
	}
	// Every protocol seen gets a rule; its ports are listed unless one was aggregated away
	// (or the protocol has none, like ICMP).
	byProto, anyPort := map[flows.Protocol][]any{}, map[flows.Protocol]bool{}
	for _, pu := range ports {
		list := byProto[pu.proto]
		if pu.port == 0 {
			anyPort[pu.proto] = true
		} else if !slices.Contains(list, any(int64(pu.port))) {
			list = append(list, int64(pu.port))
		}
		byProto[pu.proto] = list
	}
	var out []map[string]any
	seen := map[string]bool{}
	for _, name := range names {
		e := peers[name]
		var peer map[string]any
		switch {
		case e.Type == flows.TypeWorkload:
			peer = map[string]any{"selector": calicoSelector(keyLabels(e.Labels))}
			if e.Namespace != p.Ref.Namespace {
				peer["namespaceSelector"] = fmt.Sprintf("kubernetes.io/metadata.name == '%s'", e.Namespace)
			}
		case e.IP.IsValid():
			peer = map[string]any{"nets": []any{hostCIDR(e)}}
		default:
			orig, _ := orig[peerField].(map[string]any)
			peer = map[string]any{}
			for k, v := range orig {
				if k != "ports" && k != "notPorts" {
					peer[k] = v
				}
			}
			if e.Type == flows.TypeNetwork {
				cutCalicoPeer(peer, networkBlocks(e.Name))
			}
		}
		if key := fmt.Sprint(peer); seen[key] {
			continue
		} else {
			seen[key] = true
		}
		for _, proto := range slices.Sorted(maps.Keys(byProto)) {
			rule := map[string]any{"action": "Allow", "protocol": protoName(proto)}
			src, dst := peer, map[string]any{}
			if dir == netpol.Egress {
				src, dst = nil, maps.Clone(peer)
			}
			if !anyPort[proto] && len(byProto[proto]) > 0 {
				dst["ports"] = byProto[proto]
			}
			if len(src) > 0 {
				rule["source"] = src
			}
			if len(dst) > 0 {
				rule["destination"] = dst
			}
			out = append(out, rule)
		}
	}
	return out
}

func calicoSelector(labels map[string]string) string {
	if len(labels) == 0 {
		return "all()"
	}
	terms := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		terms = append(terms, fmt.Sprintf("%s == '%s'", k, labels[k]))
	}
	return strings.Join(terms, " && ")
}

func hostCIDR(e *flows.Endpoint) string {
	if e.IP.Is4() {
		return e.IP.String() + "/32"
	}
	return e.IP.String() + "/128"
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
