package netpol

import (
	"context"
	"sync"
	"testing"
)

// An engine answers from many goroutines at once, and derives changed engines concurrently,
// as a webhook's handlers do. Run with -race.
func TestEngineConcurrentUse(t *testing.T) {
	c := mustCluster(t, world, knp("deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
		np("p", "  selector: app == 'web'\n  ingress: [{action: Allow, protocol: TCP, source: {selector: app == 'client'}, destination: {ports: [http]}}]\n"))
	e := NewEngine(c)
	var peers []*Endpoint
	for _, w := range c.Workloads() {
		peers = append(peers, WorkloadEndpoint(w.WorkloadRef))
	}
	var conns []Connection
	for _, s := range peers {
		for _, d := range peers {
			conns = append(conns, Connection{Src: s, Dst: d, Packet: TCP(8080)})
		}
	}
	change := decodeAny(t, knp("allow", "  podSelector: {}\n  ingress: [{}]\n"))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				cn := conns[(g*7+i)%len(conns)]
				e.Verdict(cn.Src, cn.Dst, cn.Packet)
				e.PendingVerdict(cn.Src, cn.Dst, cn.Packet)
				e.Explain(cn.Src, cn.Dst, UDP(53))
			}
			after, err := e.WithChange(Create, nil, change)
			if err != nil {
				t.Error(err)
				return
			}
			if ics, err := Impact(context.Background(), e, after, conns); err != nil || len(ics) == 0 {
				t.Error("allowing everything changed nothing")
			}
			e.Connectivity()
		})
	}
	wg.Wait()
	if err := e.Cluster().Add(change); err == nil {
		t.Error("an engine's snapshot accepted a change")
	}
}
