package synth

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/flowguard/flowguard/flows"
)

// Flow is one connection between two endpoints of the cluster (or outside it), with what the
// policies the generator wrote do to it.
type Flow struct {
	Src, Dst flows.Endpoint
	Port     uint16
	Proto    flows.Protocol
	// Egress and Ingress say whether each side allows the flow; Allowed is both.
	Egress, Ingress bool
	Allowed         bool
	// EgressHit and IngressHit are Calico flow-log policy strings for what decided each side.
	EgressHit, IngressHit string
}

// endpoint is a generator-side endpoint: a workload, kube-dns, or an outside address.
type endpoint struct {
	w   *Workload
	dns bool
	ip  netip.Addr
	fe  flows.Endpoint
}

// Flows returns n flows over the cluster, deterministically for a seed: ring edges (60%),
// cross-namespace edges (15%), DNS lookups (10%), clients from the namespaces' client blocks
// (5%), and random pairs and known-bad addresses (10%), most of which the policies deny.
func (c *Cluster) Flows(n int, seed int64) []Flow {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xf10e))
	eps := make([]endpoint, len(c.Workloads))
	for i := range c.Workloads {
		eps[i] = endpoint{w: &c.Workloads[i], fe: workloadEndpoint(&c.Workloads[i])}
	}
	dns := endpoint{dns: true, fe: flows.Endpoint{Type: flows.TypeWorkload, Namespace: "kube-system", Name: "coredns-5d78c9869d-*",
		ServiceAccount: "coredns", Labels: sortedLabels(map[string]string{"k8s-app": "kube-dns", "pod-template-hash": "5d78c9869d",
			"projectcalico.org/namespace": "kube-system", "projectcalico.org/orchestrator": "k8s", "projectcalico.org/serviceaccount": "coredns"})}}
	at := func(k, i int) *endpoint { return &eps[k*c.Config.WorkloadsPerNamespace+i] }
	out := make([]Flow, 0, n)
	for range n {
		src := &eps[rng.IntN(len(eps))]
		k, i := src.w.NS, src.w.Index
		var dst *endpoint
		port, proto := uint16(0), flows.ProtoTCP
		switch r := rng.IntN(100); {
		case r < 60:
			dst = at(k, c.next(i))
			port = dst.w.HTTPPort
		case r < 75:
			dst = at(c.nextNS(k), i)
			port = dst.w.HTTPPort
		case r < 85:
			dst, port, proto = &dns, 53, flows.ProtoUDP
		case r < 90:
			dst = src
			ip := netip.MustParsePrefix(clientNet(k)).Addr().As4()
			ip[2], ip[3] = byte(rng.IntN(256)), byte(1+rng.IntN(254))
			src = external(netip.AddrFrom4(ip))
			port = ExternalPort
		case r < 95:
			dst = &eps[rng.IntN(len(eps))]
			port = []uint16{dst.w.HTTPPort, 22, 5432, 9050}[rng.IntN(4)]
		default:
			dst = src
			ip := netip.MustParsePrefix(KnownBadNet).Addr().As4()
			ip[3] = byte(1 + rng.IntN(254))
			src = external(netip.AddrFrom4(ip))
			port = ExternalPort
		}
		out = append(out, c.judge(src, dst, port, proto))
	}
	return out
}

func external(ip netip.Addr) *endpoint {
	name := "pub"
	if ip.IsPrivate() {
		name = "pvt"
	}
	return &endpoint{ip: ip, fe: flows.Endpoint{Type: flows.TypeNetwork, Name: name, IP: ip}}
}

func workloadEndpoint(w *Workload) flows.Endpoint {
	l := map[string]string{"pod-template-hash": w.Hash, "projectcalico.org/namespace": w.Namespace,
		"projectcalico.org/orchestrator": "k8s", "projectcalico.org/serviceaccount": w.Name}
	for k, v := range w.Labels {
		l[k] = v
	}
	return flows.Endpoint{Type: flows.TypeWorkload, Namespace: w.Namespace, Name: w.Name + "-" + w.Hash + "-*",
		Labels: sortedLabels(l), ServiceAccount: w.Name}
}

func sortedLabels(m map[string]string) flows.Labels {
	out := make(flows.Labels, 0, len(m))
	for k, v := range m {
		out = append(out, flows.Label{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b flows.Label) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return out
}

// judge applies the generated policies to one flow, as their construction intends.
func (c *Cluster) judge(src, dst *endpoint, port uint16, proto flows.Protocol) Flow {
	f := Flow{Src: src.fe, Dst: dst.fe, Port: port, Proto: proto}
	f.Egress, f.EgressHit = c.egress(src, dst, port, proto)
	f.Ingress, f.IngressHit = c.ingress(src, dst, port, proto)
	f.Allowed = f.Egress && f.Ingress
	return f
}

func (c *Cluster) egress(src, dst *endpoint, port uint16, proto flows.Protocol) (bool, string) {
	w := src.w
	if w == nil {
		return true, ""
	}
	toDNS := dst.dns && proto == flows.ProtoUDP && port == 53
	if toDNS && c.Config.GlobalPolicies >= 3 {
		return true, "0|security|security.allow-dns|allow|0"
	}
	switch w.Governed {
	case "open":
		return true, profileHit(w.Namespace)
	case "":
		return false, defaultDenyHit(w.Namespace)
	}
	d := dst.w
	http := d != nil && proto == flows.ProtoTCP && port == d.HTTPPort
	switch {
	case http && d.NS == w.NS && d.Index == c.next(w.Index):
		return true, c.allowHit(w, 0)
	case http && d.NS == c.nextNS(w.NS) && d.Index == w.Index:
		return true, c.allowHit(w, 0)
	case toDNS:
		return true, c.allowHit(w, 1)
	}
	return false, defaultDenyHit(w.Namespace)
}

func (c *Cluster) ingress(src, dst *endpoint, port uint16, proto flows.Protocol) (bool, string) {
	if dst.w == nil && !dst.dns {
		return true, ""
	}
	if c.Config.GlobalPolicies >= 1 && src.ip.IsValid() && netip.MustParsePrefix(KnownBadNet).Contains(src.ip) {
		return false, "0|security|security.deny-known-bad|deny|0"
	}
	if dst.dns {
		return true, profileHit("kube-system")
	}
	w := dst.w
	if c.Config.GlobalPolicies >= 2 && w.Labels["tier"] == "data" && src.w != nil && src.w.Labels["tier"] == "frontend" {
		return false, "0|security|security.deny-frontend-to-data|deny|0"
	}
	switch w.Governed {
	case "open":
		return true, profileHit(w.Namespace)
	case "":
		return false, defaultDenyHit(w.Namespace)
	}
	s := src.w
	peer := s != nil && ((s.NS == w.NS && s.Index == c.prev(w.Index)) || (s.NS == c.prevNS(w.NS) && s.Index == w.Index))
	tcp := proto == flows.ProtoTCP
	switch {
	case peer && tcp && port == w.HTTPPort:
		return true, c.allowHit(w, 0)
	case peer && tcp && w.Governed == "knp" && port >= 9000 && port <= 9100:
		return true, c.allowHit(w, 0)
	case w.Governed == "knp" && tcp && port == ExternalPort && src.ip.IsValid() &&
		netip.MustParsePrefix(clientNet(w.NS)).Contains(src.ip) && !netip.MustParsePrefix(exceptNet(w.NS, w.Index)).Contains(src.ip):
		return true, c.allowHit(w, 1)
	}
	return false, defaultDenyHit(w.Namespace)
}

func (c *Cluster) allowHit(w *Workload, rule int) string {
	if w.Governed == "np" {
		return fmt.Sprintf("0|default|%s/default.workloads|allow|%d", w.Namespace, rule)
	}
	return fmt.Sprintf("0|default|%s/knp.default.%s|allow|%d", w.Namespace, w.Name, rule)
}

func defaultDenyHit(ns string) string {
	return fmt.Sprintf("0|default|%s/knp.default.default-deny|deny|-1", ns)
}

func profileHit(ns string) string { return "0|__PROFILE__|__PROFILE__.kns." + ns + "|allow|0" }
