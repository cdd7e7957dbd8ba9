package netpol

import (
	"maps"
	"net/netip"
	"slices"
)

// podAddrs finds the workload a pod address belongs to across namespaces. Should pods of
// several namespaces share an address, the last namespace by name wins (within one, the
// namespace's byIP decides).
//
// Rebuilding the whole map for every change to one namespace would cost as much as the
// cluster's pods, so an index update keeps the map it was built with and notes the
// namespaces rebuilt since, whose entries in it may be stale; lookups consult those
// namespaces' own maps. After maxStale such namespaces the map is built again.
type podAddrs struct {
	built map[netip.Addr]*Workload
	stale map[string]bool
}

const maxStale = 8

func buildPodAddrs(byNS layered[*nsIdentities]) *podAddrs {
	a := &podAddrs{built: map[netip.Addr]*Workload{}}
	for _, ns := range slices.Sorted(byNS.keys()) {
		n, _ := byNS.get(ns)
		maps.Copy(a.built, n.byIP)
	}
	return a
}

// update returns the addresses after the namespaces in dirty were rebuilt into byNS.
func (a *podAddrs) update(byNS layered[*nsIdentities], dirty map[string]bool) *podAddrs {
	stale := maps.Clone(a.stale)
	if stale == nil {
		stale = map[string]bool{}
	}
	maps.Copy(stale, dirty)
	if len(stale) > maxStale {
		return buildPodAddrs(byNS)
	}
	return &podAddrs{built: a.built, stale: stale}
}

// podAt returns the workload whose pod has address ip, or nil.
func (ix *identityIndex) podAt(ip netip.Addr) *Workload {
	a := ix.pods
	w := a.built[ip]
	if len(a.stale) == 0 {
		return w
	}
	// The built winner still stands unless its namespace changed; a namespace that did not
	// change and sorts after it did not have the address. When the winner's namespace
	// changed, the namespaces it hid must be asked.
	var best *Workload
	switch {
	case w == nil:
	case !a.stale[w.Namespace]:
		best = w
	default:
		for ns, n := range ix.byNS.all() {
			if v := n.byIP[ip]; v != nil && !a.stale[ns] && (best == nil || ns > best.Namespace) {
				best = v
			}
		}
	}
	for ns := range a.stale {
		if v := ix.ns(ns).byIP[ip]; v != nil && (best == nil || ns > best.Namespace) {
			best = v
		}
	}
	return best
}
