package netpol

import (
	"context"
	"fmt"
	"net/netip"
)

// Connection is a question to ask both engines: traffic from Src to Dst with Packet. Callers
// holding flows build one per aggregated edge, sharing Endpoint pointers between connections
// of the same identity (FlowEndpoint once per identity), which keeps evaluation per class.
type Connection struct {
	Src, Dst *Endpoint
	Packet   Packet
}

// ImpactedConnection is a connection whose verdict differs between the two engines, with both
// verdicts and their full traces.
type ImpactedConnection struct {
	// Index is the connection's position in the slice given to Impact.
	Index int
	Connection
	Before, After Verdict
}

// Impact returns the connections whose enforced verdict differs between before and after, in
// input order. When after was derived from before by WithChange (directly or in a few steps),
// only connections whose endpoints the change can touch are evaluated: those the old or new
// policy selects in a direction it has, those in a changed tier's reach, those in a namespace
// whose objects changed, addresses in a changed set, and addresses that now belong to another
// pod or host. Otherwise every connection is. It checks ctx every checkEvery connections and
// stops with an *ImpactStopped error once ctx is done.
func Impact(ctx context.Context, before, after *Engine, conns []Connection) ([]ImpactedConnection, error) {
	return impact(ctx, viewEnforced, before, after, conns)
}

// PendingImpact is Impact for the pending verdicts (staged policies enforced), which is what a
// staged policy's creation or change affects.
func PendingImpact(ctx context.Context, before, after *Engine, conns []Connection) ([]ImpactedConnection, error) {
	return impact(ctx, viewPending, before, after, conns)
}

// checkEvery is how many connections Impact evaluates between looks at its context: a few
// milliseconds of work at most, so an abandoned computation stops soon after its deadline.
const checkEvery = 1024

// ImpactStopped is the error of an Impact whose context ended before it was done.
type ImpactStopped struct {
	// Visited connections were examined out of Total.
	Visited, Total int
	Err            error
}

func (e *ImpactStopped) Error() string {
	return fmt.Sprintf("impact stopped after %d of %d connections: %v", e.Visited, e.Total, e.Err)
}

func (e *ImpactStopped) Unwrap() error { return e.Err }

func impact(ctx context.Context, v view, before, after *Engine, conns []Connection) ([]ImpactedConnection, error) {
	changes, related := lineage(before, after)
	t := toucher{v: v, e: before, changes: changes}
	if related {
		t.moved = movedAddrs(before.ids, after.ids, changes)
	}
	var changed []int
	for i := range conns {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, &ImpactStopped{Visited: i, Total: len(conns), Err: err}
			}
		}
		c := &conns[i]
		if related {
			s, d := before.classOf(c.Src), before.classOf(c.Dst)
			if !t.touched(s, Egress) && !t.touched(d, Ingress) && !t.readdressed(after, c.Src) && !t.readdressed(after, c.Dst) {
				continue
			}
		}
		b := before.verdict(v, before.classOf(c.Src), before.classOf(c.Dst), c.Packet)
		a := after.verdict(v, after.classOf(c.Src), after.classOf(c.Dst), c.Packet)
		if sameDecision(b.Egress, a.Egress) && sameDecision(b.Ingress, a.Ingress) {
			continue
		}
		changed = append(changed, i)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	// Traces are made once the changed connections are known, into a slice of their number.
	out := make([]ImpactedConnection, len(changed))
	for j, i := range changed {
		if j%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, &ImpactStopped{Visited: len(conns), Total: len(conns), Err: err}
			}
		}
		c := &conns[i]
		out[j] = ImpactedConnection{
			Index: i, Connection: *c,
			Before: before.explain(v, c.Src, c.Dst, c.Packet),
			After:  after.explain(v, c.Src, c.Dst, c.Packet),
		}
	}
	return out, nil
}

// addressMoved reports whether ep is an address whose pod or host may differ between the two
// indexes: the address changed hands, or the object behind it was rebuilt. Workloads and hosts
// are compared by pointer, since an index rebuilds every object of what changed.
func addressMoved(before, after *identityIndex, ep *Endpoint) bool {
	if ep.Kind != EndpointExternal || len(ep.IPs) != 1 || before.pods == after.pods && before.hosts == after.hosts {
		return false
	}
	ip := ep.IPs[0]
	return before.podAt(ip) != after.podAt(ip) || before.hosts.byIP[ip] != after.hosts.byIP[ip]
}

// movedAddrs returns the addresses that may have moved (see addressMoved) through changes:
// those of pods in the namespaces they rebuilt and of host endpoints when they changed, before
// or after. An address whose pod is in no rebuilt namespace either side keeps it.
func movedAddrs(before, after *identityIndex, changes []*change) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, ch := range changes {
		switch ch.identity {
		case identityNamespaced:
			for _, ix := range [...]*identityIndex{before, after} {
				for ip := range ix.ns(ch.namespace).byIP {
					out[ip] = true
				}
			}
		case identityHosts:
			for _, ix := range [...]*identityIndex{before, after} {
				for ip := range ix.hosts.byIP {
					out[ip] = true
				}
			}
		}
	}
	return out
}

// sameDecision compares outcomes and what decided them, policies by identity rather than
// compiled pointer (an unchanged policy is the same object in both engines anyway).
func sameDecision(a, b Decision) bool {
	if a.Allowed != b.Allowed || a.Hit.Action != b.Hit.Action || a.Hit.Reason != b.Hit.Reason ||
		a.Hit.Tier != b.Hit.Tier || a.Hit.RuleIndex != b.Hit.RuleIndex {
		return false
	}
	if (a.Hit.Policy == nil) != (b.Hit.Policy == nil) {
		return false
	}
	return a.Hit.Policy == nil || a.Hit.Policy.Ref == b.Hit.Policy.Ref
}

// toucher decides, per endpoint class of the before engine and direction, whether a chain of
// changes may alter the decision there. Answers are memoised per class id.
type toucher struct {
	v       view
	e       *Engine
	changes []*change
	memo    [2][]int8 // per direction: 0 unknown, 1 touched, 2 not
	// moved are the addresses that may belong to another pod or host after the changes.
	moved map[netip.Addr]bool
}

// readdressed reports whether ep is an address that belongs to another pod or host in after
// than in the toucher's engine: its connections are touched whatever its class.
func (t *toucher) readdressed(after *Engine, ep *Endpoint) bool {
	return len(t.moved) > 0 && ep.Kind == EndpointExternal && len(ep.IPs) == 1 && t.moved[ep.IPs[0]] &&
		addressMoved(t.e.ids, after.ids, ep)
}

func (t *toucher) touched(cl *class, dir Direction) bool {
	m := t.memo[dir]
	if int(cl.id) < len(m) && m[cl.id] != 0 {
		return m[cl.id] == 1
	}
	r := false
	for _, ch := range t.changes {
		if t.touchedBy(ch, cl, dir) {
			r = true
			break
		}
	}
	for int(cl.id) >= len(t.memo[dir]) {
		t.memo[dir] = append(t.memo[dir], make([]int8, int(cl.id)+1-len(t.memo[dir])+64)...)
	}
	if r {
		t.memo[dir][cl.id] = 1
	} else {
		t.memo[dir][cl.id] = 2
	}
	return r
}

func (t *toucher) touchedBy(ch *change, cl *class, dir Direction) bool {
	// A change to who the endpoint is touches every connection it takes part in.
	if ch.nsChanged {
		if cl.ns == ch.namespace {
			return true
		}
		for i := range cl.ids {
			if cl.ids[i].ns == ch.namespace {
				return true
			}
		}
	}
	if len(ch.nets) > 0 && (cl.kind != EndpointWorkload || addrsOverlap(cl.ips, cl.nets, ch.nets)) {
		return true
	}
	if ch.hosts && cl.kind != EndpointWorkload {
		return true
	}
	if ch.tier != "" {
		for _, p := range t.e.applicable(cl, t.v, dir) {
			if p.Tier == ch.tier {
				return true
			}
		}
	}
	for _, p := range [...]*Policy{ch.oldPolicy, ch.newPolicy} {
		if p == nil || !p.Types[dir] {
			continue
		}
		if p.Ref.Kind.Staged() && t.v == viewEnforced {
			continue
		}
		if appliesTo(p, cl.resolution) {
			return true
		}
		if p.Ref.Kind.Staged() {
			// A staged policy also stands for its enforced twin in the pending view.
			twin := t.e.cluster.Policy(PolicyRef{Kind: p.Ref.Kind.Enforced(), Namespace: p.Ref.Namespace, Name: p.Ref.Name})
			if twin != nil && twin.Types[dir] && appliesTo(twin, cl.resolution) {
				return true
			}
		}
	}
	return false
}
