package flows

import (
	"encoding/binary"
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
	key string
	ep  Endpoint
	out []*edge // edges from this identity
	in  []*edge // edges to this identity
}

// appendIdentityKey encodes the fields that make an identity, length-prefixed so that no two
// endpoints share a key. Workload IPs are never part of it.
func appendIdentityKey(b []byte, e *Endpoint) []byte {
	b = append(b, byte(e.Type))
	b = appendLenString(b, e.Namespace)
	b = appendLenString(b, e.Name)
	b = appendLenString(b, e.ServiceAccount)
	if e.Type != TypeWorkload && e.IP.IsValid() {
		ip := e.IP.As16()
		b = append(b, 16)
		b = append(b, ip[:]...)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Labels)))
	for _, kv := range e.Labels {
		b = appendLenString(b, kv.Key)
		b = appendLenString(b, kv.Value)
	}
	return b
}

func appendLenString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// lookupIdentity finds the identity of e without creating it.
func (g *Graph) lookupIdentity(e *Endpoint) *identity {
	g.scratch = appendIdentityKey(g.scratch[:0], e)
	return g.ids[string(g.scratch)]
}

// internIdentity finds or creates the identity of e. The endpoint's label slice is copied, so
// the caller may reuse its own.
func (g *Graph) internIdentity(e *Endpoint) *identity {
	g.scratch = appendIdentityKey(g.scratch[:0], e)
	if id, ok := g.ids[string(g.scratch)]; ok {
		return id
	}
	g.nextID++
	ep := *e
	if ep.Type == TypeWorkload {
		ep.IP = netip.Addr{}
	}
	if len(e.Labels) > 0 {
		ep.Labels = append(Labels(nil), e.Labels...)
	}
	id := &identity{id: g.nextID, key: string(g.scratch), ep: ep}
	g.ids[id.key] = id
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
	delete(g.ids, id.key)
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
