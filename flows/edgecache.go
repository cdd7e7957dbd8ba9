package flows

import (
	"net/netip"
	"unsafe"
)

// recordKey names a record's edge by where its values live rather than by their content.
// Records from a Parser share interned strings and label slices, so equal pointers (and
// lengths) mean equal values; and the pointers keep what they point to alive, so an address
// cannot come back holding other content. A record with freshly allocated values simply misses
// and takes the content path. The key is plain memory, hashed and compared in one pass, where
// the content path costs a lookup per endpoint plus one per edge, each a likely cache miss.
type recordKey struct {
	src, dst endpointPtrs
	port     uint16
	proto    Protocol
	action   Action
	reporter Reporter
}

type endpointPtrs struct {
	ns, name, sa     *byte
	labels           *Label
	nsLen, nameLen   uint32
	saLen, labelsLen uint32
	typ              EndpointType
	ip               netip.Addr // zero for workloads, which the identity ignores
}

func ptrsOf(e *Endpoint) endpointPtrs {
	p := endpointPtrs{
		ns: unsafe.StringData(e.Namespace), name: unsafe.StringData(e.Name), sa: unsafe.StringData(e.ServiceAccount),
		labels: unsafe.SliceData(e.Labels),
		nsLen:  uint32(len(e.Namespace)), nameLen: uint32(len(e.Name)), saLen: uint32(len(e.ServiceAccount)),
		labelsLen: uint32(len(e.Labels)), typ: e.Type,
	}
	if e.Type != TypeWorkload {
		p.ip = e.IP
	}
	return p
}

func recordKeyOf(r *Record) recordKey {
	return recordKey{src: ptrsOf(&r.Src), dst: ptrsOf(&r.Dst), port: r.DstPort, proto: r.Proto, action: r.Action, reporter: r.Reporter}
}

// cachedEdge returns the edge a record key was last resolved to.
func (g *Graph) cachedEdge(k *recordKey) *edge { return g.edgeCache[*k] }

// cacheEdge remembers an edge for a key. The cache is cleared when it outgrows the edges by
// far (records with fresh values each time) and whenever pruning removes edges.
func (g *Graph) cacheEdge(k *recordKey, e *edge) {
	if len(g.edgeCache) >= 2*len(g.edges)+4096 {
		clear(g.edgeCache)
	}
	g.edgeCache[*k] = e
}
