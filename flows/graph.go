package flows

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
)

// Defaults of GraphOptions.
const (
	DefaultBucketWidth = time.Hour
	DefaultRetention   = 7 * 24 * time.Hour
	// DefaultMaxEdges caps the graph at about 400 MB even with a week of hourly buckets per
	// edge; level-0 logs full of public IPs would otherwise grow it without bound.
	DefaultMaxEdges = 1 << 20
)

// GraphOptions configure a Graph. The zero value gives hourly buckets, 7 days of retention and
// the real clock.
type GraphOptions struct {
	// BucketWidth is the width of the time buckets, a whole number of seconds.
	BucketWidth time.Duration
	// Retention is how long buckets are kept after they end; negative keeps them forever
	// (offline analysis of old files).
	Retention time.Duration
	// MaxEdges caps the number of edges; records that would add one more are dropped and
	// counted. Zero means DefaultMaxEdges; negative means no cap.
	MaxEdges int
	// Clock tells the time for retention.
	Clock clock.PassiveClock
}

// Graph is the aggregated traffic graph: interned endpoint identities and the edges between
// them, each with time buckets of flow, byte and packet counts.
//
// Concurrency: one sync.RWMutex. Readers (admission checks, audits) take the read lock for the
// length of a query and never block each other; the writer takes the write lock once per batch
// (AddBatch, Appender), so a reader waits at most for one batch, a few hundred microseconds at
// the default batch size. Copy-on-write snapshots were rejected: publishing a copy of a graph
// with a million edges after each batch costs far more than the brief read waits it would save,
// and per-edge atomics would give readers torn multi-field counts.
type Graph struct {
	mu          sync.RWMutex
	width       int64 // seconds
	retention   time.Duration
	maxEdges    int
	clock       clock.PassiveClock
	byName      map[nameKey][]*identity
	byID        map[IdentityID]*identity
	byNamespace map[string]map[IdentityID]*identity
	nextID      IdentityID
	edges       map[edgeKey]*edge
	edgeCache   map[recordKey]*edge
	shards      map[string]map[*edge]struct{}
	traces      map[string][]PolicyHit
	scratch     []byte
	prunedAt    int64 // bucket index at the last retention pass
	nBuckets    int

	generation atomic.Uint64
	added      atomic.Uint64
	expired    atomic.Uint64
	dropped    atomic.Uint64
}

type edgeKey struct {
	src, dst IdentityID
	port     uint16
	proto    Protocol
	action   Action
	reporter Reporter
}

type edge struct {
	key      edgeKey
	src, dst *identity
	buckets  []bucket // ordered by idx
	enforced []PolicyHit
	pending  []PolicyHit
	traceAt  uint32 // end time of the record the trace came from
	// owner is the shard that last supplied the edge (see ReplaceShard); empty for edges
	// learned from records.
	owner string
}

// bucket holds one time bucket of an edge in 32 bytes: with hourly buckets and a week of
// retention an edge costs at most 168 of them.
type bucket struct {
	idx         uint32 // start / width
	first, last uint32 // Unix seconds
	flows       uint32
	bytes       uint64
	packets     uint64
}

// NewGraph returns an empty graph.
func NewGraph(opts GraphOptions) (*Graph, error) {
	if opts.BucketWidth == 0 {
		opts.BucketWidth = DefaultBucketWidth
	}
	if opts.BucketWidth < time.Second || opts.BucketWidth%time.Second != 0 {
		return nil, fmt.Errorf("new traffic graph: bucket width %v is not a whole number of seconds", opts.BucketWidth)
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxEdges == 0 {
		opts.MaxEdges = DefaultMaxEdges
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Graph{
		width:       int64(opts.BucketWidth / time.Second),
		retention:   opts.Retention,
		maxEdges:    opts.MaxEdges,
		clock:       opts.Clock,
		byName:      make(map[nameKey][]*identity),
		byID:        make(map[IdentityID]*identity),
		byNamespace: make(map[string]map[IdentityID]*identity),
		edges:       make(map[edgeKey]*edge),
		edgeCache:   make(map[recordKey]*edge),
		shards:      make(map[string]map[*edge]struct{}),
		traces:      make(map[string][]PolicyHit),
	}, nil
}

// BucketWidth returns the width of the graph's buckets.
func (g *Graph) BucketWidth() time.Duration { return time.Duration(g.width) * time.Second }

// Generation changes whenever the graph does, so callers can cache results computed from it.
func (g *Graph) Generation() uint64 { return g.generation.Load() }

// GraphStats describes the graph's size and what it has refused.
type GraphStats struct {
	Identities, Edges, Buckets int
	// Added counts records aggregated; Expired those older than retention; Dropped those refused
	// because the edge cap was reached.
	Added, Expired, Dropped uint64
}

// Stats returns the graph's size.
func (g *Graph) Stats() GraphStats {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return GraphStats{Identities: len(g.byID), Edges: len(g.edges), Buckets: g.nBuckets,
		Added: g.added.Load(), Expired: g.expired.Load(), Dropped: g.dropped.Load()}
}

// Add aggregates one record. See AddBatch.
func (g *Graph) Add(r *Record) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	g.maybePrune(now)
	ok := g.add(r, g.horizon(now))
	if ok {
		g.generation.Add(1)
	}
	return ok
}

// AddBatch aggregates records under one write lock and returns how many were kept; the rest
// were older than retention or over the edge cap. The graph keeps the records' label slices
// (Parser shares them between records, and copying each would cost more than the lookup):
// callers must not modify a record's Labels after adding it. Policy traces are copied.
func (g *Graph) AddBatch(recs []Record) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	g.maybePrune(now)
	horizon := g.horizon(now)
	n := 0
	for i := range recs {
		if g.add(&recs[i], horizon) {
			n++
		}
	}
	if n > 0 {
		g.generation.Add(1)
	}
	return n
}

// horizon returns the first bucket index retention keeps, or 0 when it keeps everything.
func (g *Graph) horizon(now time.Time) int64 {
	if g.retention < 0 {
		return 0
	}
	cut := now.Add(-g.retention).Unix()
	if cut <= 0 {
		return 0
	}
	// A bucket is kept while any part of it is younger than the cut.
	return cut / g.width
}

func (g *Graph) add(r *Record, horizon int64) bool {
	end := r.End
	if end.IsZero() {
		end = r.Start
	}
	t := end.Unix()
	if t < 0 || t >= 1<<32 {
		g.dropped.Add(1)
		return false
	}
	idx := t / g.width
	// A record that ends on a bucket boundary belongs to the bucket it covers: Felix's hourly
	// records [00:00, 01:00) land in the 00:00 bucket, so a window ending at the newest record's
	// end holds that record.
	if t%g.width == 0 && r.Start.Unix() < t && idx > 0 {
		idx--
	}
	if idx < horizon {
		g.expired.Add(1)
		return false
	}
	rk := recordKeyOf(r)
	e := g.cachedEdge(&rk)
	if e == nil {
		e = g.resolveEdge(r)
		if e == nil {
			return false
		}
		g.cacheEdge(&rk, e)
	}
	start := r.Start.Unix()

	if start < 0 || start > t {
		start = t
	}
	n := len(e.buckets)
	b := e.bucketAt(uint32(idx))
	g.nBuckets += len(e.buckets) - n
	b.flows += uint32(min(r.Flows, 1<<32-1-uint64(b.flows)))
	b.bytes += r.Bytes
	b.packets += r.Packets
	if b.first == 0 || uint32(start) < b.first {
		b.first = uint32(start)
	}
	if uint32(t) > b.last {
		b.last = uint32(t)
	}
	if uint32(t) >= e.traceAt {
		e.traceAt = uint32(t)
		if !slices.Equal(e.enforced, r.Enforced) {
			e.enforced = g.internTrace(r.Enforced)
		}
		if !slices.Equal(e.pending, r.Pending) {
			e.pending = g.internTrace(r.Pending)
		}
	}
	g.added.Add(1)
	return true
}

// resolveEdge finds or creates a record's edge by content; nil when the edge cap refuses it.
func (g *Graph) resolveEdge(r *Record) *edge {
	return g.resolveEdgeOf(&r.Src, &r.Dst, r.DstPort, r.Proto, r.Action, r.Reporter)
}

func (g *Graph) resolveEdgeOf(srcEp, dstEp *Endpoint, port uint16, proto Protocol, action Action, reporter Reporter) *edge {
	src, dst := g.lookupIdentity(srcEp), g.lookupIdentity(dstEp)
	if src != nil && dst != nil {
		if e := g.edges[edgeKey{src.id, dst.id, port, proto, action, reporter}]; e != nil {
			return e
		}
	}
	if g.maxEdges > 0 && len(g.edges) >= g.maxEdges {
		g.dropped.Add(1)
		return nil
	}
	if src == nil {
		src = g.internIdentity(srcEp)
	}
	if dst == nil {
		dst = g.internIdentity(dstEp)
	}
	key := edgeKey{src.id, dst.id, port, proto, action, reporter}
	e := &edge{key: key, src: src, dst: dst}
	g.edges[key] = e
	src.out = append(src.out, e)
	dst.in = append(dst.in, e)
	return e
}

// deleteEdge removes an edge, and its ends when no other edge uses them.
func (g *Graph) deleteEdge(e *edge) {
	clear(g.edgeCache) // it may name this edge
	delete(g.edges, e.key)
	g.nBuckets -= len(e.buckets)
	if e.owner != "" {
		delete(g.shards[e.owner], e)
	}
	e.src.out = removeEdge(e.src.out, e)
	e.dst.in = removeEdge(e.dst.in, e)
	for _, id := range []*identity{e.src, e.dst} {
		if len(id.out) == 0 && len(id.in) == 0 {
			g.dropIdentity(id)
		}
	}
}

// bucketAt returns the bucket with index idx, inserting it in order. Records arrive roughly in
// time order, so the search starts from the newest bucket.
func (e *edge) bucketAt(idx uint32) *bucket {
	i := len(e.buckets)
	for i > 0 && e.buckets[i-1].idx > idx {
		i--
	}
	if i > 0 && e.buckets[i-1].idx == idx {
		return &e.buckets[i-1]
	}
	e.buckets = slices.Insert(e.buckets, i, bucket{idx: idx})
	return &e.buckets[i]
}

// internTrace returns the graph's shared copy of a policy trace: thousands of edges carry the
// same few traces.
func (g *Graph) internTrace(hits []PolicyHit) []PolicyHit {
	if len(hits) == 0 {
		return nil
	}
	g.scratch = g.scratch[:0]
	for _, h := range hits {
		g.scratch = appendHitKey(g.scratch, &h)
	}
	if t, ok := g.traces[string(g.scratch)]; ok {
		return t
	}
	t := slices.Clone(hits)
	g.traces[string(g.scratch)] = t
	return t
}

func appendHitKey(b []byte, h *PolicyHit) []byte {
	b = appendLenString(b, h.Tier)
	b = appendLenString(b, h.Kind)
	b = appendLenString(b, h.Namespace)
	b = appendLenString(b, h.Name)
	b = appendLenString(b, h.Action)
	b = binary.AppendVarint(b, int64(h.Index))
	return binary.AppendVarint(b, int64(h.RuleIndex))
}

func (g *Graph) maybePrune(now time.Time) {
	if idx := now.Unix() / g.width; idx > g.prunedAt {
		g.prunedAt = idx
		g.prune(g.horizon(now))
	}
}

// Prune drops buckets older than retention, then the edges left without buckets and the
// identities left without edges. Adding records prunes once per bucket width on its own; Prune
// is for a graph that is only read.
func (g *Graph) Prune() {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	g.prunedAt = now.Unix() / g.width
	g.prune(g.horizon(now))
}

func (g *Graph) prune(horizon int64) {
	if horizon == 0 {
		return
	}
	changed := false
	live := make(map[string][]PolicyHit, len(g.traces))
	for _, e := range g.edges {
		keep := 0
		for keep < len(e.buckets) && int64(e.buckets[keep].idx) < horizon {
			keep++
		}
		if keep > 0 {
			changed = true
			e.buckets = slices.Delete(e.buckets, 0, keep)
			g.nBuckets -= keep
		}
		if len(e.buckets) == 0 {
			g.deleteEdge(e)
			continue
		}
		for _, t := range [][]PolicyHit{e.enforced, e.pending} {
			if len(t) > 0 {
				g.scratch = g.scratch[:0]
				for _, h := range t {
					g.scratch = appendHitKey(g.scratch, &h)
				}
				live[string(g.scratch)] = t
			}
		}
	}
	g.traces = live
	if changed {
		g.generation.Add(1)
	}
}

func appendLenString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
