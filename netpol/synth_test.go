package netpol_test

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/test/synth"
)

// loadSynth builds a cluster from generated objects, as informers would fill it.
func loadSynth(t testing.TB, c *synth.Cluster) *netpol.Cluster {
	t.Helper()
	nc := netpol.NewCluster()
	for _, obj := range c.Objects {
		if err := nc.Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	return nc
}

// connections turns flows into connections, one Endpoint per flow identity as a traffic
// graph would intern them.
func connections(fl []synth.Flow) []netpol.Connection {
	eps := map[string]*netpol.Endpoint{}
	ep := func(fe flows.Endpoint) *netpol.Endpoint {
		k := fe.Namespace + "/" + fe.Name + "/" + fe.IP.String()
		if e, ok := eps[k]; ok {
			return e
		}
		e := netpol.FlowEndpoint(fe)
		eps[k] = e
		return e
	}
	out := make([]netpol.Connection, len(fl))
	for i, f := range fl {
		out[i] = netpol.Connection{Src: ep(f.Src), Dst: ep(f.Dst), Packet: netpol.PacketOf(f.Proto, f.Port)}
	}
	return out
}

// Every verdict over a generated cluster agrees with what the generator built its policies to
// do, direction by direction: Kubernetes and Calico policies, tiers, network sets, named
// ports, ipBlock excepts, endPort ranges and aggregated flow names together.
func TestVerdictsAgreeWithGenerator(t *testing.T) {
	for name, cfg := range map[string]synth.Config{
		"pods folded by owner reference": {Seed: 3, Namespaces: 6, WorkloadsPerNamespace: 5, Replicas: 2, Pods: true,
			DefaultDeny: true, KubernetesPolicyWorkloads: 2, CalicoNamespaces: 5, GlobalPolicies: 4},
		"deployments only, no default deny": {Seed: 4, Namespaces: 5, WorkloadsPerNamespace: 4, Replicas: 1,
			KubernetesPolicyWorkloads: 1, CalicoNamespaces: 3, GlobalPolicies: 2},
	} {
		t.Run(name, func(t *testing.T) {
			sc := synth.Generate(cfg)
			e := netpol.NewEngine(loadSynth(t, sc))
			fl := sc.Flows(20000, 5)
			conns := connections(fl)
			bad := 0
			for i, c := range conns {
				v := e.Verdict(c.Src, c.Dst, c.Packet)
				f := fl[i]
				if v.Egress.Allowed != f.Egress || v.Ingress.Allowed != f.Ingress {
					bad++
					if bad <= 5 {
						t.Errorf("%s -> %s %s/%d: egress %v ingress %v, generator says %v %v (%s | %s)\n%s",
							f.Src.String(), f.Dst.String(), f.Proto, f.Port, v.Egress.Allowed, v.Ingress.Allowed,
							f.Egress, f.Ingress, f.EgressHit, f.IngressHit, e.Explain(c.Src, c.Dst, c.Packet))
					}
				}
			}
			n := 0
			for _, f := range fl {
				if f.Allowed {
					n++
				}
			}
			t.Logf("%d of %d allowed", n, len(fl))
			if bad > 0 {
				t.Errorf("%d of %d verdicts disagree", bad, len(conns))
			}
		})
	}
}

// The connectivity map of a generated cluster agrees with verdicts on every workload pair.
func TestSynthConnectivityAgreesWithVerdicts(t *testing.T) {
	sc := synth.Generate(synth.Config{Seed: 5, Namespaces: 4, WorkloadsPerNamespace: 5, Replicas: 1, Pods: true,
		DefaultDeny: true, KubernetesPolicyWorkloads: 2, CalicoNamespaces: 3, GlobalPolicies: 4})
	c := loadSynth(t, sc)
	e := netpol.NewEngine(c)
	got := map[[2]string]netpol.ConnSet{}
	for _, edge := range e.Connectivity() {
		got[[2]string{edge.Src.String(), edge.Dst.String()}] = edge.Conns
	}
	var pkts []netpol.Packet
	for _, w := range sc.Workloads[:5] {
		pkts = append(pkts, netpol.TCP(w.HTTPPort))
	}
	pkts = append(pkts, netpol.TCP(9050), netpol.TCP(443), netpol.UDP(53), netpol.TCP(22))
	allowed := 0
	for _, s := range c.Workloads() {
		for _, d := range c.Workloads() {
			if s == d {
				continue
			}
			src, dst := netpol.WorkloadEndpoint(s.WorkloadRef), netpol.WorkloadEndpoint(d.WorkloadRef)
			set, ok := got[[2]string{s.String(), d.String()}]
			for _, pkt := range pkts {
				want := e.Verdict(src, dst, pkt).Allowed
				if want {
					allowed++
				}
				if have := ok && set.Contains(pkt.Proto, pkt.Port); have != want {
					t.Errorf("%s -> %s %s/%d: connectivity %v (%s), verdict %v", s.WorkloadRef, d.WorkloadRef, pkt.Proto, pkt.Port, have, set, want)
				}
			}
		}
	}
	if allowed == 0 {
		t.Fatal("no allowed connection: the check proves nothing")
	}
}

// ConnectivityFunc hands over the edges in printed order, each pair once, and stops at the
// first error its callback returns.
func TestConnectivityFuncStreamsInOrder(t *testing.T) {
	sc := synth.Generate(synth.Config{Seed: 5, Namespaces: 4, WorkloadsPerNamespace: 5, Replicas: 1, Pods: true,
		KubernetesPolicyWorkloads: 2, CalicoNamespaces: 2, GlobalPolicies: 4})
	e := netpol.NewEngine(loadSynth(t, sc))
	var keys [][2]string
	seen := map[[2]string]bool{}
	err := e.ConnectivityFunc(func(edge netpol.ConnectivityEdge) error {
		k := [2]string{edge.Src.String(), edge.Dst.String()}
		if seen[k] {
			t.Errorf("pair %v emitted twice", k)
		}
		seen[k] = true
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 100 {
		t.Fatalf("only %d edges: the cluster should be mostly open", len(keys))
	}
	if !slices.IsSortedFunc(keys, func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	}) {
		t.Errorf("edges are not in printed order")
	}
	stop := errors.New("stop")
	n := 0
	err = e.ConnectivityFunc(func(netpol.ConnectivityEdge) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("after the callback's error: err = %v, %d edges, want stop after 3", err, n)
	}
}
