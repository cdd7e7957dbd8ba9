package flows

import "slices"

// ReplaceShard makes the graph hold exactly edges for the shard named owner, as a replica does
// with each version of a shared object: the edges' buckets replace (rather than add to) what the
// graph held for them, so applying the same version twice changes nothing; and edges the shard
// supplied before but not now are removed, unless another shard has supplied them since (they
// moved when the shards were re-cut). Buckets are re-cut to the graph's width and retention.
// The edges need only the fields Edges fills with WithBuckets.
func (g *Graph) ReplaceShard(owner string, edges []Edge) {
	g.mu.Lock()
	defer g.mu.Unlock()
	horizon := g.horizon(g.clock.Now())
	prev := g.shards[owner]
	next := make(map[*edge]struct{}, len(edges))
	for i := range edges {
		in := &edges[i]
		e := g.resolveEdgeOf(&in.Src, &in.Dst, in.DstPort, in.Proto, in.Action, in.Reporter)
		if e == nil {
			continue
		}
		g.nBuckets -= len(e.buckets)
		e.buckets = e.buckets[:0]
		for _, b := range in.Buckets {
			idx := b.Start.Unix() / g.width
			if idx < horizon || idx < 0 || idx >= 1<<32 {
				continue
			}
			nb := e.bucketAt(uint32(idx))
			nb.flows += uint32(min(b.Flows, uint64(^uint32(0)-nb.flows)))
			nb.bytes += b.Bytes
			nb.packets += b.Packets
			first, last := uint32(max(b.FirstSeen.Unix(), 0)), uint32(max(b.LastSeen.Unix(), 0))
			if nb.first == 0 || first < nb.first {
				nb.first = first
			}
			nb.last = max(nb.last, last)
		}
		g.nBuckets += len(e.buckets)
		e.enforced, e.pending = g.internTrace(in.Enforced), g.internTrace(in.Pending)
		if e.owner != owner && e.owner != "" {
			delete(g.shards[e.owner], e)
		}
		e.owner = owner
		next[e] = struct{}{}
		if len(e.buckets) == 0 {
			g.deleteEdge(e)
			delete(next, e)
		}
	}
	for e := range prev {
		if _, kept := next[e]; !kept && e.owner == owner {
			g.deleteEdge(e)
		}
	}
	if len(next) == 0 {
		delete(g.shards, owner)
	} else {
		g.shards[owner] = next
	}
	g.generation.Add(1)
}

// DropShard removes the edges a shard supplied (its object was deleted).
func (g *Graph) DropShard(owner string) { g.ReplaceShard(owner, nil) }

// Shards lists the shards the graph holds edges of, sorted.
func (g *Graph) Shards() []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]string, 0, len(g.shards))
	for s := range g.shards {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
