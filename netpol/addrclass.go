package netpol

import (
	"net/netip"
	"slices"
	"sync"
)

// Addresses outside the cluster are many (flows from the Internet keep theirs), but policies
// only tell apart the pieces of address space their networks and the network sets cut it
// into. An engine resolves such an address to the class of its piece, so a million outside
// addresses cost as much as the few thousand pieces they fall in.

// addrAtoms is the address space cut at every network any policy (staged ones included) or
// network set names.
type addrAtoms struct {
	mu     sync.Mutex
	starts [2][]netip.Addr // per family (IPv4, IPv6): first address of each piece
	eps    [2][]*Endpoint  // the range endpoint of each piece, made on first use
}

func buildAddrAtoms(c *Cluster, ix *identityIndex) *addrAtoms {
	var cuts []netip.Prefix
	for _, p := range c.policies.m {
		for _, d := range [...]Direction{Ingress, Egress} {
			for i := range p.Rules[d] {
				cuts = append(cuts, cutsOf(&p.Rules[d][i])...)
			}
		}
	}
	for _, s := range ix.sets {
		cuts = append(cuts, s.Nets...)
	}
	a := &addrAtoms{}
	for f, v6 := range [...]bool{false, true} {
		pieces := atoms(universe(v6), cuts)
		a.starts[f] = make([]netip.Addr, len(pieces))
		for i, p := range pieces {
			a.starts[f][i] = p.From
		}
		a.eps[f] = make([]*Endpoint, len(pieces))
	}
	return a
}

// endpoint returns the range endpoint of the piece holding ip.
func (a *addrAtoms) endpoint(ip netip.Addr) *Endpoint {
	f := 0
	if ip.Is6() {
		f = 1
	}
	starts := a.starts[f]
	i, found := slices.BinarySearchFunc(starts, ip, netip.Addr.Compare)
	if !found {
		i--
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ep := a.eps[f][i]; ep != nil {
		return ep
	}
	r := AddrRange{From: starts[i], To: universe(f == 1).To}
	if i+1 < len(starts) {
		r.To = starts[i+1].Prev()
	}
	ep := RangeEndpoint(r.String(), r.prefixes()...)
	a.eps[f][i] = ep
	return ep
}
