package netpol

import (
	"net/netip"
	"testing"
)

// Outside addresses share a class exactly when no policy network or set tells them apart.
func TestOutsideAddressesShareClasses(t *testing.T) {
	c := mustCluster(t, world, knp("p", "  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}]}]\n"),
		gns("corp", "{zone: corp}", "2001:db8::/32"))
	e := NewEngine(c)
	class := func(s string) *class { return e.classOf(AddrEndpoint(netip.MustParseAddr(s))) }
	tests := map[string]struct {
		a, b string
		same bool
	}{
		"two addresses of the same piece":            {a: "192.168.2.1", b: "192.168.200.9", same: true},
		"an excepted address and an admitted one":    {a: "192.168.1.1", b: "192.168.2.1"},
		"outside every network named":                {a: "8.8.8.8", b: "1.1.1.1", same: true},
		"inside a network set and outside it (IPv6)": {a: "2001:db8::1", b: "2001:db9::1"},
		"a pod's address is that pod":                {a: "10.0.1.5", b: "10.0.1.6"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if same := class(tc.a) == class(tc.b); same != tc.same {
				t.Errorf("same class = %v, want %v", same, tc.same)
			}
		})
	}
	if cl := class("10.0.1.5"); cl.kind != EndpointWorkload || cl.workload == nil || cl.workload.Name != "client" {
		t.Errorf("10.0.1.5 resolved to %+v, want the prod/client pod", cl)
	}
}
