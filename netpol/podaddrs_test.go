package netpol

import (
	"fmt"
	"net/netip"
	"testing"
)

// An index updated namespace by namespace finds the same pod behind every address as one
// built from scratch, also when pods of several namespaces share an address (the last
// namespace by name wins) and after more namespaces changed than it keeps stale.
func TestPodAddressesAfterUpdates(t *testing.T) {
	pod := func(ns, name, ip string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s, labels: {app: %s}}\n"+
			"spec: {containers: [{name: c, image: c}]}\nstatus: {podIP: %s, podIPs: [{ip: %s}]}\n", name, ns, name, ip, ip)
	}
	tests := map[string][]string{
		"a pod moves to a free address":                                    {pod("a", "p", "10.0.0.9")},
		"a pod takes the address of a pod in a namespace sorting after it": {pod("a", "p", "10.0.0.2")},
		"the winning pod leaves a shared address":                          {pod("c", "r", "10.0.0.8")},
		"pods of two changed namespaces share an address": {
			pod("b", "q", "10.0.0.3"), pod("c", "r", "10.0.0.3"), pod("c", "r", "10.0.0.8")},
		"more namespaces change than stay stale": {
			pod("n1", "x", "10.0.1.1"), pod("n2", "x", "10.0.1.1"), pod("n3", "x", "10.0.1.1"), pod("n4", "x", "10.0.1.2"),
			pod("n5", "x", "10.0.1.2"), pod("n6", "x", "10.0.1.3"), pod("n7", "x", "10.0.1.3"), pod("n8", "x", "10.0.1.4"),
			pod("n9", "x", "10.0.1.4"), pod("a", "p", "10.0.1.1")},
	}
	for name, changes := range tests {
		t.Run(name, func(t *testing.T) {
			c := mustCluster(t, pod("a", "p", "10.0.0.1"), pod("b", "q", "10.0.0.2"), pod("c", "r", "10.0.0.2"),
				pod("c", "s", "10.0.0.3"))
			c.identities()
			for i, doc := range changes {
				if err := c.Add(decodeAny(t, doc)); err != nil {
					t.Fatal(err)
				}
				updated, rebuilt := c.identities(), buildIdentities(c)
				for n := range 10 {
					for _, ip := range []netip.Addr{netip.AddrFrom4([4]byte{10, 0, 0, byte(n)}), netip.AddrFrom4([4]byte{10, 0, 1, byte(n)})} {
						if got, want := updated.podAt(ip), rebuilt.podAt(ip); refOrNil(got) != refOrNil(want) {
							t.Errorf("after change %d, %s: updated index finds %s, a rebuilt one %s", i, ip, refOrNil(got), refOrNil(want))
						}
					}
				}
			}
		})
	}
}

func refOrNil(w *Workload) string {
	if w == nil {
		return "nothing"
	}
	return w.String()
}
