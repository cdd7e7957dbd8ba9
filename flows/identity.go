package flows

import (
	"net/netip"
)

// IdentityID names an interned endpoint identity within one Graph. IDs are never reused while
// the Graph lives, so a caller may cache per-identity results (a selector's verdict) by ID; they
// are not stable across restarts or between replicas.
type IdentityID uint32

// Identity is an endpoint identity of the graph with its ID.
type Identity struct {
	ID       IdentityID
	Endpoint Endpoint
}

// identity is the graph's interned form of an Endpoint: the unit that selectors are evaluated
// against once, and that edges point to.
type identity struct {
	id  IdentityID
	ep  Endpoint
	out []*edge // edges from this identity
	in  []*edge // edges to this identity
}

// nameKey is the first level of identity lookup. Most names have one identity; a workload
// whose pods carry several label sets (a rollout in progress) has a few, told apart by
// sameIdentity. Hashing this small key instead of the whole label set keeps lookups cheap.
type nameKey struct {
	typ      EndpointType
	ns, name string
	ip       netip.Addr // zero for workloads
}

func keyOf(e *Endpoint) nameKey {
	k := nameKey{typ: e.Type, ns: e.Namespace, name: e.Name}
	if e.Type != TypeWorkload {
		k.ip = e.IP
	}
	return k
}

func sameIdentity(a, b *Endpoint) bool {
	return a.ServiceAccount == b.ServiceAccount && labelsEqual(a.Labels, b.Labels)
}

// labelsEqual compares label sets; label sets from one Parser are shared, so the common case
// is the same slice.
func labelsEqual(a, b Labels) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lookupIdentity finds the identity of e without creating it.
func (g *Graph) lookupIdentity(e *Endpoint) *identity {
	for _, id := range g.byName[keyOf(e)] {
		if sameIdentity(&id.ep, e) {
			return id
		}
	}
	return nil
}

// internIdentity finds or creates the identity of e. It keeps e's label slice, which callers
// must not modify afterwards (see Add).
func (g *Graph) internIdentity(e *Endpoint) *identity {
	if id := g.lookupIdentity(e); id != nil {
		return id
	}
	g.nextID++
	ep := *e
	if ep.Type == TypeWorkload {
		ep.IP = netip.Addr{}
	}
	id := &identity{id: g.nextID, ep: ep}
	k := keyOf(&ep)
	g.byName[k] = append(g.byName[k], id)
	g.byID[id.id] = id
	ns := g.byNamespace[ep.Namespace]
	if ns == nil {
		ns = make(map[IdentityID]*identity)
		g.byNamespace[ep.Namespace] = ns
	}
	ns[id.id] = id
	return id
}

func (g *Graph) dropIdentity(id *identity) {
	if _, ok := g.byID[id.id]; !ok {
		return
	}
	k := keyOf(&id.ep)
	list := g.byName[k]
	for i, x := range list {
		if x == id {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(g.byName, k)
	} else {
		g.byName[k] = list
	}
	delete(g.byID, id.id)
	if ns := g.byNamespace[id.ep.Namespace]; ns != nil {
		delete(ns, id.id)
		if len(ns) == 0 {
			delete(g.byNamespace, id.ep.Namespace)
		}
	}
}

// removeEdge deletes e from an adjacency list, keeping it compact.
func removeEdge(list []*edge, e *edge) []*edge {
	for i, x := range list {
		if x == e {
			last := len(list) - 1
			list[i] = list[last]
			list[last] = nil
			return list[:last]
		}
	}
	return list
}
