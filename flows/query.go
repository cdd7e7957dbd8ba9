package flows

import (
	"cmp"
	"slices"
	"time"
)

// LabelPredicate decides whether a label set matches. netpol's compiled selectors satisfy it
// without flows importing netpol; LabelFunc adapts a plain function.
type LabelPredicate interface {
	Matches(Labels) bool
}

// LabelFunc adapts a function to LabelPredicate.
type LabelFunc func(Labels) bool

// Matches calls f.
func (f LabelFunc) Matches(l Labels) bool { return f(l) }

// EndpointFilter selects identities; every field that is set must match, and the zero filter
// matches everything.
type EndpointFilter struct {
	// Type, if set, is the endpoint type.
	Type EndpointType
	// Namespace, if set, is the endpoint's namespace (the index makes this the cheap filter).
	Namespace string
	// Name, if set, is the aggregated name ("api-5f6b7c8d9-*", "pub").
	Name string
	// Labels, if set, must match the endpoint's labels.
	Labels LabelPredicate
	// Match, if set, is any other condition on the endpoint.
	Match func(*Endpoint) bool
}

func (f *EndpointFilter) isZero() bool {
	return f.Type == 0 && f.Namespace == "" && f.Name == "" && f.Labels == nil && f.Match == nil
}

func (f *EndpointFilter) matches(e *Endpoint) bool {
	return (f.Type == 0 || e.Type == f.Type) &&
		(f.Namespace == "" || e.Namespace == f.Namespace) &&
		(f.Name == "" || e.Name == f.Name) &&
		(f.Labels == nil || f.Labels.Matches(e.Labels)) &&
		(f.Match == nil || f.Match(e))
}

// Query selects edges. All conditions that are set must hold; the zero Query returns every
// edge over the whole retained history.
type Query struct {
	// Src and Dst filter the two ends of an edge.
	Src, Dst EndpointFilter
	// Either must match at least one end: "the traffic of namespace X" or "of workload Y".
	Either EndpointFilter
	// From and To bound the time window [From, To); a zero value leaves that side open. A
	// bucket counts when it overlaps the window, so the window is widened to whole buckets.
	From, To time.Time
	// DstPort, Proto, Action and Reporter, if non-zero, must equal the edge's.
	DstPort  uint16
	Proto    Protocol
	Action   Action
	Reporter Reporter
	// WithBuckets fills Edge.Buckets.
	WithBuckets bool
}

// Edge is one aggregated edge over a query's window.
type Edge struct {
	// SrcID and DstID identify the two ends within this Graph.
	SrcID, DstID IdentityID
	// Src and Dst share the graph's interned values: treat their Labels as read-only.
	Src, Dst Endpoint
	DstPort  uint16
	Proto    Protocol
	Action   Action
	Reporter Reporter
	// Flows, Bytes and Packets are summed over the buckets in the window.
	Flows, Bytes, Packets uint64
	// FirstSeen and LastSeen are the earliest start and latest end of records in the window.
	FirstSeen, LastSeen time.Time
	// Enforced and Pending are the policy trace of the latest record on the edge (read-only).
	Enforced, Pending []PolicyHit
	// Buckets is set only when the query asks for it, oldest first.
	Buckets []Bucket
}

// Bucket is one time bucket of an edge.
type Bucket struct {
	Start                 time.Time
	Flows, Bytes, Packets uint64
	FirstSeen, LastSeen   time.Time
}

// Range calls fn with each edge that q selects, until fn returns false. It holds the read lock
// throughout: fn must not call the Graph (a waiting writer would deadlock the nested read
// lock), and the *Edge is reused, so copy it to keep it. Results come in no particular order.
func (g *Graph) Range(q Query, fn func(*Edge) bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	w := g.window(&q)
	var out Edge
	memo := newMemo(&q)
	visit := func(e *edge) bool {
		if !g.edgeMatches(e, &q, memo) {
			return true
		}
		if !w.fill(&out, e, q.WithBuckets, g.width) {
			return true
		}
		return fn(&out)
	}
	switch {
	case !q.Src.isZero():
		for _, id := range g.candidates(&q.Src) {
			if !memo.src(id) {
				continue
			}
			for _, e := range id.out {
				if !visit(e) {
					return
				}
			}
		}
	case !q.Dst.isZero():
		for _, id := range g.candidates(&q.Dst) {
			if !memo.dst(id) {
				continue
			}
			for _, e := range id.in {
				if !visit(e) {
					return
				}
			}
		}
	case !q.Either.isZero():
		for _, id := range g.candidates(&q.Either) {
			if !memo.either(id) {
				continue
			}
			for _, e := range id.out {
				if !visit(e) {
					return
				}
			}
			for _, e := range id.in {
				// An edge with both ends matching was visited from its source.
				if e.src != e.dst && !memo.either(e.src) {
					if !visit(e) {
						return
					}
				}
			}
		}
	default:
		for _, e := range g.edges {
			if !visit(e) {
				return
			}
		}
	}
}

// Edges returns copies of the edges q selects, in no particular order (see SortEdges).
func (g *Graph) Edges(q Query) []Edge {
	var out []Edge
	g.Range(q, func(e *Edge) bool {
		c := *e
		c.Buckets = slices.Clone(e.Buckets)
		out = append(out, c)
		return true
	})
	return out
}

// Identities returns the identities f selects, in ID order.
func (g *Graph) Identities(f EndpointFilter) []Identity {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []Identity
	for _, id := range g.candidates(&f) {
		if f.matches(&id.ep) {
			out = append(out, Identity{ID: id.id, Endpoint: id.ep})
		}
	}
	slices.SortFunc(out, func(a, b Identity) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// SortEdges orders edges for people and for stable output: by source, destination, protocol,
// port, action and reporter.
func SortEdges(edges []Edge) {
	slices.SortFunc(edges, func(a, b Edge) int {
		return cmp.Or(
			cmp.Compare(a.Src.String(), b.Src.String()),
			cmp.Compare(a.Dst.String(), b.Dst.String()),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.DstPort, b.DstPort),
			cmp.Compare(a.Action, b.Action), cmp.Compare(a.Reporter, b.Reporter),
			cmp.Compare(a.Src.Labels.String(), b.Src.Labels.String()),
			cmp.Compare(a.Dst.Labels.String(), b.Dst.Labels.String()),
		)
	})
}

// candidates narrows the identities to scan by the namespace index when the filter names one.
func (g *Graph) candidates(f *EndpointFilter) []*identity {
	if f.Namespace != "" {
		ns := g.byNamespace[f.Namespace]
		out := make([]*identity, 0, len(ns))
		for _, id := range ns {
			out = append(out, id)
		}
		return out
	}
	out := make([]*identity, 0, len(g.byID))
	for _, id := range g.byID {
		out = append(out, id)
	}
	return out
}

func (g *Graph) edgeMatches(e *edge, q *Query, m *memo) bool {
	k := e.key
	return (q.DstPort == 0 || k.port == q.DstPort) &&
		(q.Proto == 0 || k.proto == q.Proto) &&
		(q.Action == 0 || k.action == q.Action) &&
		(q.Reporter == 0 || k.reporter == q.Reporter) &&
		m.src(e.src) && m.dst(e.dst) &&
		(q.Either.isZero() || m.either(e.src) || m.either(e.dst))
}

// memo evaluates each filter once per identity: a selector is cheap, but an identity can have
// thousands of edges.
type memo struct {
	q                   *Query
	srcM, dstM, eitherM map[*identity]bool
}

func newMemo(q *Query) *memo { return &memo{q: q} }

func memoize(m *map[*identity]bool, f *EndpointFilter, id *identity) bool {
	if f.isZero() {
		return true
	}
	if *m == nil {
		*m = make(map[*identity]bool)
	}
	v, ok := (*m)[id]
	if !ok {
		v = f.matches(&id.ep)
		(*m)[id] = v
	}
	return v
}

func (m *memo) src(id *identity) bool    { return memoize(&m.srcM, &m.q.Src, id) }
func (m *memo) dst(id *identity) bool    { return memoize(&m.dstM, &m.q.Dst, id) }
func (m *memo) either(id *identity) bool { return memoize(&m.eitherM, &m.q.Either, id) }

// window is a query's time window as bucket indexes, clipped to retention.
type window struct{ lo, hi int64 } // inclusive lo, exclusive hi

func (g *Graph) window(q *Query) window {
	w := window{lo: g.horizon(g.clock.Now()), hi: 1<<32 + 1}
	if !q.From.IsZero() {
		w.lo = max(w.lo, q.From.Unix()/g.width)
	}
	if !q.To.IsZero() {
		to := q.To.Unix()
		w.hi = min(w.hi, (to+g.width-1)/g.width)
	}
	return w
}

// fill sums e's buckets inside the window into out; false when none is inside.
func (w window) fill(out *Edge, e *edge, withBuckets bool, width int64) bool {
	buckets := out.Buckets[:0]
	*out = Edge{
		SrcID: e.src.id, DstID: e.dst.id, Src: e.src.ep, Dst: e.dst.ep,
		DstPort: e.key.port, Proto: e.key.proto, Action: e.key.action, Reporter: e.key.reporter,
		Enforced: e.enforced, Pending: e.pending,
	}
	var first, last uint32
	n := 0
	for i := range e.buckets {
		b := &e.buckets[i]
		if int64(b.idx) < w.lo || int64(b.idx) >= w.hi {
			continue
		}
		n++
		out.Flows += uint64(b.flows)
		out.Bytes += b.bytes
		out.Packets += b.packets
		if first == 0 || b.first < first {
			first = b.first
		}
		last = max(last, b.last)
		if withBuckets {
			buckets = append(buckets, Bucket{
				Start: time.Unix(int64(b.idx)*width, 0), Flows: uint64(b.flows), Bytes: b.bytes, Packets: b.packets,
				FirstSeen: time.Unix(int64(b.first), 0), LastSeen: time.Unix(int64(b.last), 0),
			})
		}
	}
	if withBuckets {
		out.Buckets = buckets
	}
	if n == 0 {
		return false
	}
	out.FirstSeen, out.LastSeen = time.Unix(int64(first), 0), time.Unix(int64(last), 0)
	return true
}
