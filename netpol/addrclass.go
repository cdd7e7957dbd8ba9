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
	for _, p := range c.policies.all() {
		cuts = policyCuts(cuts, p)
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

// refine returns the pieces cut further at nets: a itself when they add no boundary, else
// new pieces, as atoms would cut them from a's boundaries and the new ones.
func (a *addrAtoms) refine(nets []netip.Prefix) *addrAtoms {
	var added [2][]netip.Addr
	for _, n := range nets {
		f := family6(n.Addr())
		for _, b := range appendBounds(nil, n) {
			if _, found := slices.BinarySearchFunc(a.starts[f], b, netip.Addr.Compare); !found {
				added[f] = append(added[f], b)
			}
		}
	}
	if len(added[0]) == 0 && len(added[1]) == 0 {
		return a
	}
	out := &addrAtoms{}
	for f := range out.starts {
		out.starts[f] = slices.Concat(a.starts[f], added[f])
		slices.SortFunc(out.starts[f], netip.Addr.Compare)
		out.starts[f] = slices.Compact(out.starts[f])
		out.eps[f] = make([]*Endpoint, len(out.starts[f]))
	}
	return out
}

// family6 is 0 for IPv4 and 1 for IPv6, the index of an address's family in addrAtoms.
func family6(ip netip.Addr) int {
	if ip.Is4() {
		return 0
	}
	return 1
}

// endpoint returns the range endpoint of the piece holding ip.
func (a *addrAtoms) endpoint(ip netip.Addr) *Endpoint {
	f := family6(ip)
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
