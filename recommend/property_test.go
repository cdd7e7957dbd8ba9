package recommend

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// TestRecommendationAllowsExactlyTheObservedTraffic is the property test: over generated
// clusters and traffic, with the recommended policies applied (written as YAML and read back
// through netpol's loader, next to the cluster's objects), netpol's verdict engine allows
// every observed allowed connection, and denies connections between the same workloads that
// were not observed, or were denied last.
//
// The Kubernetes style is checked with the enforced verdict. The Calico style is staged, so it
// is checked with the pending verdict (staged policies enforced), and the enforced verdict
// must not change at all.
func TestRecommendationAllowsExactlyTheObservedTraffic(t *testing.T) {
	seeds := uint64(40)
	if testing.Short() {
		seeds = 8
	}
	for seed := range seeds {
		s := genScenario(seed)
		for _, style := range Styles {
			t.Run(fmt.Sprintf("seed=%d/%s", seed, style), func(t *testing.T) {
				checkScenario(t, s, style, seed)
			})
		}
	}
}

func checkScenario(t *testing.T, s *scenario, style Style, seed uint64) {
	r, err := Recommend(context.Background(), newCluster(t, s.objs...), newGraph(t, s.recs...), Options{Style: style})
	if err != nil {
		t.Fatal(err)
	}
	var manifest bytes.Buffer
	if err := WriteYAML(&manifest, r.Objects(), nil); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, s.objs...)
	if err := c.LoadReader(bytes.NewReader(manifest.Bytes()), "recommendation.yaml"); err != nil {
		t.Fatalf("netpol refuses the recommendation: %v\n%s", err, manifest.Bytes())
	}
	eng := netpol.NewEngine(c)
	verdict := eng.Verdict
	if style == StyleCalicoStaged {
		verdict = eng.PendingVerdict
	}
	sets := setsOf(s)
	// decide returns whether every address the endpoints stand for may connect.
	decide := func(src, dst flows.Endpoint, proto flows.Protocol, port uint16) (bool, netpol.Verdict) {
		var v netpol.Verdict
		for _, se := range expand(src, style, sets) {
			for _, de := range expand(dst, style, sets) {
				if v = verdict(se, de, netpol.PacketOf(proto, port)); !v.Allowed {
					return false, v
				}
			}
		}
		return true, v
	}
	describe := func(src, dst flows.Endpoint, proto flows.Protocol, port uint16, v netpol.Verdict) string {
		return fmt.Sprintf("%s -> %s %s/%d (egress: %v %+v, ingress: %v %+v)", src.String(), dst.String(), proto, port,
			v.Egress.Allowed, v.Egress.Hit, v.Ingress.Allowed, v.Ingress.Hit)
	}

	for _, a := range s.allowed {
		if style == StyleKubernetes && !a.proto.HasPorts() {
			continue // listed in the notes: a Kubernetes policy cannot allow ICMP alone
		}
		if ok, v := decide(a.src, a.dst, a.proto, a.port); !ok {
			t.Errorf("seed %d: observed allowed connection denied: %s\n%s", seed, describe(a.src, a.dst, a.proto, a.port, v), manifest.Bytes())
			return
		}
	}
	isOpen := func(src, dst flows.Endpoint, proto flows.Protocol) bool {
		return s.open[genConn{src: src.String(), dst: dst.String(), proto: proto}]
	}
	for _, b := range s.blocked {
		if isOpen(b.src, b.dst, b.proto) || isDNSQuery(b) {
			continue // knowingly allowed: a port aggregated away, or DNS, which every pod keeps
		}
		if ok, _ := decide(b.src, b.dst, b.proto, b.port); ok {
			t.Errorf("seed %d: connection denied last is allowed: %s -> %s %s/%d", seed, b.src.String(), b.dst.String(), b.proto, b.port)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5a3))
	ports := []uint16{80, 443, 514, 5432, 6379, 8000, 8001, 8002, 8003, 8004, 8005, 9090}
	for range 300 {
		src, dst := s.workloads[rng.IntN(len(s.workloads))], s.workloads[rng.IntN(len(s.workloads))]
		proto := []flows.Protocol{flows.ProtoTCP, flows.ProtoUDP}[rng.IntN(2)]
		port := ports[rng.IntN(len(ports))]
		if s.observed[connOf(src, dst, proto, port)] || isOpen(src, dst, proto) {
			continue
		}
		if ok, v := decide(src, dst, proto, port); ok {
			t.Errorf("seed %d: unobserved connection allowed: %s", seed, describe(src, dst, proto, port, v))
		}
	}
	if style == StyleCalicoStaged && len(s.blocked) > 0 {
		b := s.blocked[0]
		if v := eng.Verdict(netpol.FlowEndpoint(b.src), netpol.FlowEndpoint(b.dst), netpol.PacketOf(b.proto, b.port)); !v.Allowed {
			t.Errorf("seed %d: a staged recommendation changed the enforced verdict of %s -> %s", seed, b.src.String(), b.dst.String())
		}
	}
	for _, u := range r.Unresolved {
		if u.SrcReason == "" && u.DstReason == "" {
			t.Errorf("unresolved entry without a reason: %+v", u)
		}
	}
}

// isDNSQuery reports whether a connection goes to cluster DNS on port 53.
func isDNSQuery(c flowConn) bool {
	v, _ := c.dst.Labels.Get("k8s-app")
	return c.dst.Namespace == DefaultDNSNamespace && v == "kube-dns" && c.port == 53 &&
		(c.proto == flows.ProtoUDP || c.proto == flows.ProtoTCP)
}

// setsOf returns the nets of the scenario's network sets by namespace and name.
func setsOf(s *scenario) map[[2]string][]netip.Prefix {
	out := map[[2]string][]netip.Prefix{}
	for _, o := range s.objs {
		var ns, name string
		var nets []string
		switch set := o.(type) {
		case *calicov3.NetworkSet:
			ns, name, nets = set.Namespace, set.Name, set.Spec.Nets
		case *calicov3.GlobalNetworkSet:
			name, nets = set.Name, set.Spec.Nets
		default:
			continue
		}
		for _, n := range nets {
			out[[2]string{ns, name}] = append(out[[2]string{ns, name}], netip.MustParsePrefix(n))
		}
	}
	return out
}

// expand converts a flow endpoint for the verdict engine. Endpoints that stand for some
// address of several ranges are split into one endpoint per range (see pieces). In the
// Kubernetes style a network set is its address ranges; Calico selects it by its labels.
func expand(ep flows.Endpoint, style Style, sets map[[2]string][]netip.Prefix) []*netpol.Endpoint {
	var nets []netip.Prefix
	switch {
	case ep.Type == flows.TypeNetwork && !ep.IP.IsValid():
		nets = netpol.FlowEndpoint(ep).Nets
	case ep.Type == flows.TypeNetworkSet && style == StyleKubernetes:
		nets = sets[[2]string{ep.Namespace, ep.Name}]
	default:
		return []*netpol.Endpoint{netpol.FlowEndpoint(ep)}
	}
	var out []*netpol.Endpoint
	for _, p := range pieces(nets) {
		out = append(out, netpol.RangeEndpoint(ep.Name, p...))
	}
	return out
}
