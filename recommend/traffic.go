package recommend

import (
	"cmp"
	"slices"
	"time"

	"github.com/flowguard/flowguard/flows"
)

// connKey is one connection as the graph knows it: a pair of identities, a port and a
// protocol, whatever the action and reporter.
type connKey struct {
	src, dst flows.IdentityID
	port     uint16
	proto    flows.Protocol
}

// conn aggregates the edges of one connection.
type conn struct {
	key      connKey
	src, dst *resolved
	// eps are the two endpoints as the flows name them, kept only when one of them is
	// unresolved, for the report.
	eps       *[2]flows.Endpoint
	allowFrom time.Time // first seen of the allowed records
	allowLast time.Time
	denyLast  time.Time
	flows     uint64
}

// allowed reports whether the connection counts as observed-allowed: an allowed record was
// seen and no denied one since. A connection some policy blocks now (even on the other side:
// egress allowed at the source, ingress denied at the destination) must not be reopened.
func (c *conn) allowed() bool {
	return !c.allowLast.IsZero() && (c.denyLast.IsZero() || c.denyLast.Before(c.allowLast))
}

// portKey is a destination port of one protocol; port 0 stands for every port of a protocol
// that has ports (the flow source aggregated the port away), or for the protocol itself.
type portKey struct {
	proto flows.Protocol
	port  uint16
}

func comparePorts(a, b portKey) int {
	return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.port, b.port))
}

// peerRule is everything observed between a group and one peer in one direction.
type peerRule struct {
	peer peer
	// ports are few (one or two almost always): a slice beats a map.
	ports []portKey
	// first is when the first of these connections was first seen.
	first time.Time
}

// groupRules is what one group needs allowed.
type groupRules struct {
	g       *group
	ingress map[peer]*peerRule
	egress  map[peer]*peerRule
	// changed is when the newest connection of the group was first seen: the last time the
	// recommendation for the group changed.
	changed time.Time
}

func (gr *groupRules) add(dir map[peer]*peerRule, p peer, pk portKey, first time.Time) {
	r := dir[p]
	if r == nil {
		r = &peerRule{peer: p, first: first}
		dir[p] = r
	}
	if !slices.Contains(r.ports, pk) {
		r.ports = append(r.ports, pk)
	}
	if first.Before(r.first) {
		r.first = first
	}
	if first.After(gr.changed) {
		gr.changed = first
	}
}

// sortedPeers returns a direction's peer rules in output order, their ports sorted.
func sortedPeers(dir map[peer]*peerRule) []*peerRule {
	type keyed struct {
		key string
		r   *peerRule
	}
	ks := make([]keyed, 0, len(dir))
	for _, r := range dir {
		slices.SortFunc(r.ports, comparePorts)
		ks = append(ks, keyed{r.peer.sortKey(), r})
	}
	slices.SortFunc(ks, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	out := make([]*peerRule, len(ks))
	for i, k := range ks {
		out[i] = k.r
	}
	return out
}

// traffic is the graph read once: the observation window and every connection.
type traffic struct {
	from, until time.Time
	conns       map[connKey]conn
	edges       int
}

// readTraffic aggregates the graph's edges since a time (zero: all) into connections,
// resolving each identity once.
func readTraffic(g *flows.Graph, since time.Time, res *resolver) *traffic {
	// Every edge is at most one connection: size the map once rather than grow it through
	// a dozen rehashes.
	t := &traffic{conns: make(map[connKey]conn, g.Stats().Edges)}
	g.Range(flows.Query{From: since}, func(e *flows.Edge) bool {
		t.edges++
		// The graph hands out local times; results are in UTC wherever they are read.
		e.FirstSeen, e.LastSeen = e.FirstSeen.UTC(), e.LastSeen.UTC()
		if t.from.IsZero() || e.FirstSeen.Before(t.from) {
			t.from = e.FirstSeen
		}
		if e.LastSeen.After(t.until) {
			t.until = e.LastSeen
		}
		k := connKey{src: e.SrcID, dst: e.DstID, port: e.DstPort, proto: e.Proto}
		c, ok := t.conns[k]
		if !ok {
			c = conn{key: k, src: res.of(e.SrcID, &e.Src), dst: res.of(e.DstID, &e.Dst)}
			if !c.src.ok() || !c.dst.ok() {
				// Kept for the report of unresolved flows; the graph's copies are shared
				// and immutable.
				c.eps = &[2]flows.Endpoint{e.Src, e.Dst}
			}
		}
		switch e.Action {
		case flows.ActionAllow:
			if c.allowFrom.IsZero() || e.FirstSeen.Before(c.allowFrom) {
				c.allowFrom = e.FirstSeen
			}
			if e.LastSeen.After(c.allowLast) {
				c.allowLast = e.LastSeen
			}
			c.flows += e.Flows
		case flows.ActionDeny:
			if e.LastSeen.After(c.denyLast) {
				c.denyLast = e.LastSeen
			}
		}
		t.conns[k] = c
		return true
	})
	return t
}
