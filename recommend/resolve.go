package recommend

import (
	"net/netip"
	"strings"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// Reason says why a flow endpoint could not be tied to something a policy can name.
type Reason string

const (
	// ReasonUnknownNamespace: the namespace is not in the cluster model.
	ReasonUnknownNamespace Reason = "unknown-namespace"
	// ReasonNoWorkload: no workload of the namespace has this name (or, for an aggregated
	// name, a name it starts with and labels the flow agrees with).
	ReasonNoWorkload Reason = "no-matching-workload"
	// ReasonAmbiguous: several workloads match the name and the flow's labels.
	ReasonAmbiguous Reason = "ambiguous-workload"
	// ReasonNameAggregated: the flow source aggregated the name away and kept no labels.
	ReasonNameAggregated Reason = "name-aggregated-away"
	// ReasonNoStableLabels: the workload has no label a selector could use without also
	// selecting every other pod of its namespace.
	ReasonNoStableLabels Reason = "no-stable-labels"
	// ReasonHostNetwork: the workload runs on the host's network namespace, where
	// NetworkPolicies do not apply and its traffic carries the node's address.
	ReasonHostNetwork Reason = "host-network"
	// ReasonHostEndpoint: host endpoints are outside what recommendations write.
	ReasonHostEndpoint Reason = "host-endpoint"
	// ReasonUnknownNetworkSet: the network set is not in the cluster model.
	ReasonUnknownNetworkSet Reason = "unknown-network-set"
	// ReasonUnknownEndpoint: an endpoint type or network name flowguard does not know.
	ReasonUnknownEndpoint Reason = "unknown-endpoint"
)

// peerKind is what a rule names as the other side of a connection.
type peerKind uint8

const (
	peerWorkload peerKind = iota + 1
	peerNetworkSet
	peerAddress // one address outside the cluster
	peerPublic  // Calico's "pub": some address outside RFC 1918
	peerPrivate // Calico's "pvt": some RFC 1918 address outside the cluster
)

// peer is the other side of a rule. It is comparable, so rules key their peers by it.
type peer struct {
	kind   peerKind
	group  *group
	set    *netpol.NetworkSet
	prefix netip.Prefix
}

// sortKey orders peers: workloads by namespace and policy name, then sets, then networks.
func (p peer) sortKey() string {
	switch p.kind {
	case peerWorkload:
		return p.group.key
	case peerNetworkSet:
		return "2/" + p.set.Namespace + "/" + p.set.Name
	case peerAddress:
		a := p.prefix.Addr().As16()
		return "3/" + string(a[:]) + string(rune(p.prefix.Bits()))
	case peerPrivate:
		return "4/pvt"
	case peerPublic:
		return "5/pub"
	}
	return "9"
}

// String names the peer for people, as flows does.
func (p peer) String() string {
	switch p.kind {
	case peerWorkload:
		return p.group.ref()
	case peerNetworkSet:
		if p.set.Global() {
			return "globalnetworkset:" + p.set.Name
		}
		return "networkset:" + p.set.Namespace + "/" + p.set.Name
	case peerAddress:
		return "net:" + p.prefix.String()
	case peerPrivate:
		return "net:pvt"
	case peerPublic:
		return "net:pub"
	}
	return "unknown"
}

// resolved is what one flow endpoint (one graph identity) resolved to.
type resolved struct {
	peer   peer
	reason Reason // empty when peer is set
	detail string
	// dns: the endpoint is cluster DNS (by namespace and labels), which every recommended
	// namespace reaches through its DNS rule whether or not the model holds the DNS pods.
	dns bool
}

func (r *resolved) ok() bool { return r.reason == "" }

// resolver ties flow endpoints to groups, sets and networks, memoised per graph identity.
type resolver struct {
	inv  *inventory
	dns  *DNS
	memo map[flows.IdentityID]*resolved
}

func newResolver(inv *inventory, dns *DNS) *resolver {
	return &resolver{inv: inv, dns: dns, memo: map[flows.IdentityID]*resolved{}}
}

func (r *resolver) of(id flows.IdentityID, ep *flows.Endpoint) *resolved {
	if res, ok := r.memo[id]; ok {
		return res
	}
	res := r.resolve(ep)
	r.memo[id] = res
	return res
}

func (r *resolver) resolve(ep *flows.Endpoint) *resolved {
	switch ep.Type {
	case flows.TypeWorkload:
		res := r.workload(ep)
		res.dns = r.isDNS(ep, res)
		return res
	case flows.TypeNetworkSet:
		s, ok := r.inv.sets[[2]string{ep.Namespace, ep.Name}]
		if !ok {
			return &resolved{reason: ReasonUnknownNetworkSet, detail: "no network set " + ep.String() + " in the cluster model"}
		}
		return &resolved{peer: peer{kind: peerNetworkSet, set: s}}
	case flows.TypeNetwork:
		if ep.IP.IsValid() {
			ip := ep.IP.Unmap()
			if g, ok := r.inv.byIP[ip]; ok {
				return r.groupPeer(g)
			}
			return &resolved{peer: peer{kind: peerAddress, prefix: netip.PrefixFrom(ip, ip.BitLen())}}
		}
		switch ep.Name {
		case "pub":
			return &resolved{peer: peer{kind: peerPublic}}
		case "pvt":
			return &resolved{peer: peer{kind: peerPrivate}}
		}
		return &resolved{reason: ReasonUnknownEndpoint, detail: "network " + ep.Name + " without an address"}
	case flows.TypeHost:
		return &resolved{reason: ReasonHostEndpoint, detail: "host " + ep.Name}
	}
	return &resolved{reason: ReasonUnknownEndpoint, detail: "endpoint type " + ep.Type.String()}
}

// workload finds the group of a workload endpoint: by the flow's name (a workload or pod
// name, or Calico's aggregated "<generateName>*"), then, where names do not settle it, by the
// labels the flow carries.
func (r *resolver) workload(ep *flows.Endpoint) *resolved {
	ns, ok := r.inv.namespaces[ep.Namespace]
	if !ok {
		return &resolved{reason: ReasonUnknownNamespace, detail: "namespace " + ep.Namespace + " is not in the cluster model"}
	}
	labels := ep.Labels.Map()
	name := ep.Name
	if name == "-" || name == "*" {
		name = ""
	}
	var cands []*group
	if name != "" {
		cands = r.byName(ns, name)
	}
	if len(cands) == 0 && len(labels) > 0 {
		cands = r.byLabels(ns, name, labels)
	}
	if len(cands) > 1 && len(labels) > 0 {
		// Several workloads share the name (a Deployment and a StatefulSet "web"): the
		// flow's labels tell them apart, when they do.
		var agree []*group
		for _, g := range cands {
			if labelsAgree(g, labels) {
				agree = append(agree, g)
			}
		}
		if len(agree) > 0 {
			cands = agree
		}
	}
	switch {
	case len(cands) == 1:
		return r.groupPeer(cands[0])
	case len(cands) > 1:
		names := make([]string, len(cands))
		for i, g := range cands {
			names[i] = g.ref()
		}
		return &resolved{reason: ReasonAmbiguous, detail: ep.String() + " matches " + strings.Join(names, " and ")}
	case name == "" && len(labels) == 0:
		return &resolved{reason: ReasonNameAggregated, detail: "the flow names no workload in " + ep.Namespace + " and carries no labels"}
	}
	return &resolved{reason: ReasonNoWorkload, detail: "no workload of the cluster model matches " + ep.String()}
}

// byName looks a flow's name up: the name itself, then without its last segment (a
// Deployment's pod-template hash, a CronJob's schedule index, a StatefulSet ordinal).
func (r *resolver) byName(ns *namespaceInv, name string) []*group {
	base, aggregated := strings.CutSuffix(name, "*")
	base = strings.TrimSuffix(base, "-")
	if gs := ns.byName[base]; len(gs) > 0 {
		return gs
	}
	i := strings.LastIndexByte(base, '-')
	if i <= 0 || i == len(base)-1 {
		return nil
	}
	if seg := base[i+1:]; aggregated || isDigits(seg) {
		return ns.byName[base[:i]]
	}
	return nil
}

// byLabels finds the groups whose pod template labels the flow's labels include, among
// those whose name prefixes the flow's (every group when the name was aggregated away);
// the most specific label sets win.
func (r *resolver) byLabels(ns *namespaceInv, name string, labels map[string]string) []*group {
	base := strings.TrimSuffix(strings.TrimSuffix(name, "*"), "-")
	var out []*group
	best := 0
	for _, g := range ns.groups {
		if !labelsAgree(g, labels) {
			continue
		}
		if base != "" && !strings.HasPrefix(base, g.members[0].Name+"-") {
			continue
		}
		switch n := len(g.stable); {
		case n > best:
			out, best = []*group{g}, n
		case n == best:
			out = append(out, g)
		}
	}
	return out
}

// labelsAgree reports whether the flow's labels include every label of some member's template.
func labelsAgree(g *group, labels map[string]string) bool {
	for _, w := range g.members {
		ok := len(w.Labels) > 0
		for k, v := range w.Labels {
			if got, has := labels[k]; !has || got != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (r *resolver) groupPeer(g *group) *resolved {
	switch {
	case !g.selectable:
		return &resolved{reason: ReasonNoStableLabels, detail: g.ref() + " has no label that selects only its own pods"}
	case g.hostNetwork:
		return &resolved{reason: ReasonHostNetwork, detail: g.ref() + " uses the host's network"}
	}
	return &resolved{peer: peer{kind: peerWorkload, group: g}}
}

// isDNS reports whether a workload endpoint is cluster DNS: in the DNS namespace, with the
// DNS labels on the flow or on the workload it resolved to.
func (r *resolver) isDNS(ep *flows.Endpoint, res *resolved) bool {
	if r.dns.Disabled || ep.Namespace != r.dns.Namespace {
		return false
	}
	has := func(get func(string) (string, bool)) bool {
		for k, v := range r.dns.Labels {
			if got, ok := get(k); !ok || got != v {
				return false
			}
		}
		return true
	}
	if len(ep.Labels) > 0 && has(ep.Labels.Get) {
		return true
	}
	if res.ok() && res.peer.kind == peerWorkload {
		for _, w := range res.peer.group.members {
			if has(func(k string) (string, bool) { v, ok := w.Labels[k]; return v, ok }) {
				return true
			}
		}
	}
	return false
}

func isDigits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}
