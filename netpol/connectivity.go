package netpol

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol/selector"
)

// ConnectivityPeer is one end of a connectivity edge: a workload, or address space outside
// the cluster.
type ConnectivityPeer struct {
	Workload *WorkloadRef
	// HostNetwork marks a workload whose pods use their node's network: Calico makes no
	// workload endpoint for them, so no pod policy governs them (its node's host endpoint
	// policies do), and its edges are what the other side's policies allow.
	HostNetwork bool
	Ranges      []AddrRange
}

// String writes ns/name[Kind] for a workload and comma-separated ranges for address space.
func (p ConnectivityPeer) String() string {
	if p.Workload != nil {
		return p.Workload.String()
	}
	return joinRanges(p.Ranges)
}

// ConnectivityEdge says which connections the policies allow from Src to Dst.
type ConnectivityEdge struct {
	Src, Dst ConnectivityPeer
	Conns    ConnSet
}

// String writes "src => dst : conns".
func (e ConnectivityEdge) String() string {
	return e.Src.String() + " => " + e.Dst.String() + " : " + e.Conns.String()
}

// Connectivity returns the allowed connections (enforced policies) between every pair of
// distinct workloads, and between each workload and the address space outside the cluster
// (IPv4, and IPv6 when a policy or set names an IPv6 network), one edge per pair with a
// non-empty set, in the order ConnectivityFunc emits them.
func (e *Engine) Connectivity() []ConnectivityEdge {
	var out []ConnectivityEdge
	_ = e.ConnectivityFunc(func(edge ConnectivityEdge) error {
		out = append(out, edge)
		return nil
	})
	return out
}

// ConnectivityFunc computes what Connectivity returns and hands each edge to emit as soon as
// it is known, stopping at emit's first error. Edges come ordered by source then destination
// as printed: first those from outside address space (whose names, addresses, sort before
// workload names), then per source workload its edges to outside space and to every other
// workload.
//
// It works per endpoint class, not per workload pair: for each class and direction it finds
// the peer classes each rule can match through an index of classes by label, evaluates those
// pairs over whole connection sets, and shares one answer among all peers no rule matches.
// Memory holds per-class answers and one source class's row of answers, never the pairs: its
// cost grows with classes plus rule matches, and only the time to write the output grows with
// pairs.
func (e *Engine) ConnectivityFunc(emit func(ConnectivityEdge) error) error {
	cx := newConnectivity(e)
	var workloads []*Workload
	for _, cl := range cx.classes {
		workloads = append(workloads, cx.members[cl]...)
	}
	names := make(map[*Workload]string, len(workloads))
	for _, w := range workloads {
		names[w] = w.String()
	}
	slices.SortFunc(workloads, func(a, b *Workload) int { return strings.Compare(names[a], names[b]) })
	classOf := make(map[*Workload]int, len(workloads))
	for i, cl := range cx.classes {
		for _, w := range cx.members[cl] {
			classOf[w] = i
		}
	}

	// Edges from outside space: a few per workload, sorted as printed.
	var inbound []ConnectivityEdge
	for _, cl := range cx.classes {
		inbound = append(inbound, cx.external(cl, Ingress)...)
	}
	if err := emitSorted(inbound, emit); err != nil {
		return err
	}

	for _, sw := range workloads {
		s := cx.classes[classOf[sw]]
		if err := emitSorted(cx.externalEdges(s, Egress, sw), emit); err != nil {
			return err
		}
		for _, dw := range workloads {
			if dw == sw {
				continue
			}
			id := cx.pair(s, classOf[sw], cx.classes[classOf[dw]], classOf[dw])
			if cx.empty[id] {
				continue
			}
			if err := emit(ConnectivityEdge{Src: workloadPeer(sw), Dst: workloadPeer(dw), Conns: cx.answers[id]}); err != nil {
				return err
			}
		}
	}
	return nil
}

// pair is what s may open to d, as an answer id: s's egress towards d intersected with d's
// ingress from s. Answers are interned, so pairs of answers are few and their intersections
// are memoised.
func (cx *connectivity) pair(s *class, si int, d *class, di int) int32 {
	eg, egc := cx.side(s, Egress).towards(cx, d, di)
	if eg >= 0 && cx.empty[eg] {
		return eg
	}
	in, inc := cx.side(d, Ingress).towards(cx, s, si)
	if eg < 0 || in < 0 {
		return cx.intern(egc.Intersect(inc))
	}
	k := [2]int32{eg, in}
	if id, ok := cx.pairs[k]; ok {
		return id
	}
	id := cx.intern(egc.Intersect(inc))
	cx.pairs[k] = id
	return id
}

// intern returns the id of an answer, the same for equal sets.
func (cx *connectivity) intern(c ConnSet) int32 {
	k := c.String()
	if id, ok := cx.ids[k]; ok {
		return id
	}
	id := int32(len(cx.answers))
	cx.answers = append(cx.answers, c)
	cx.empty = append(cx.empty, c.IsEmpty())
	cx.ids[k] = id
	return id
}

// emitSorted hands edges to emit ordered by printed source, then destination.
func emitSorted(edges []ConnectivityEdge, emit func(ConnectivityEdge) error) error {
	keys := make([][2]string, len(edges))
	idx := make([]int, len(edges))
	for i, e := range edges {
		keys[i] = [2]string{e.Src.String(), e.Dst.String()}
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := strings.Compare(keys[a][0], keys[b][0]); c != 0 {
			return c
		}
		return strings.Compare(keys[a][1], keys[b][1])
	})
	for _, j := range idx {
		if err := emit(edges[j]); err != nil {
			return err
		}
	}
	return nil
}

func workloadPeer(w *Workload) ConnectivityPeer {
	return ConnectivityPeer{Workload: &w.WorkloadRef, HostNetwork: w.HostNetwork}
}

// connectivity holds one computation's classes, their index and per-side results.
type connectivity struct {
	e       *Engine
	classes []*class
	members map[*class][]*Workload
	byNS    map[string][]*class
	byLabel map[selector.Requirement][]*class
	withIPs []*class
	sides   [2]map[*class]*sideResult
	index   map[*class]int
	peers   map[*Rule]classSet // the classes each rule's peer side matches
	// answers are the distinct connection sets met, by id; pairs memoises intersections.
	answers []ConnSet
	empty   []bool
	ids     map[string]int32
	pairs   map[[2]int32]int32
	ext     [2]map[*class][]extGroup
	v6      bool
}

func newConnectivity(e *Engine) *connectivity {
	cx := &connectivity{e: e, members: map[*class][]*Workload{}, byNS: map[string][]*class{},
		byLabel: map[selector.Requirement][]*class{}}
	cx.sides[Ingress], cx.sides[Egress] = map[*class]*sideResult{}, map[*class]*sideResult{}
	cx.index, cx.peers = map[*class]int{}, map[*Rule]classSet{}
	cx.ids, cx.pairs = map[string]int32{}, map[[2]int32]int32{}
	cx.ext[Ingress], cx.ext[Egress] = map[*class][]extGroup{}, map[*class][]extGroup{}
	for _, w := range e.ids.workloads() {
		cl := e.classOf(WorkloadEndpoint(w.WorkloadRef))
		if _, seen := cx.members[cl]; !seen {
			cx.index[cl] = len(cx.classes)
			cx.classes = append(cx.classes, cl)
			cx.byNS[cl.ns] = append(cx.byNS[cl.ns], cl)
			for k, v := range cl.labels {
				r := selector.Requirement{Key: k, Value: v}
				cx.byLabel[r] = append(cx.byLabel[r], cl)
			}
			if len(cl.ips) > 0 {
				cx.withIPs = append(cx.withIPs, cl)
			}
		}
		cx.members[cl] = append(cx.members[cl], w)
	}
	var cuts []netip.Prefix
	for _, p := range e.cluster.policies.all() {
		if p.Ref.Kind.Staged() {
			continue
		}
		cuts = policyCuts(cuts[:0], p)
		for _, n := range cuts {
			cx.v6 = cx.v6 || n.Addr().Is6()
		}
	}
	for _, s := range e.ids.sets {
		for _, n := range s.Nets {
			cx.v6 = cx.v6 || n.Addr().Is6()
		}
	}
	return cx
}

// sideResult is one class's policies for one direction, reduced to the rules whose own side
// holds for the class; answers are memoised by which of those rules match the peer, so a class
// keeps as many answers as distinct match patterns, not one per peer.
type sideResult struct {
	self   *class
	dir    Direction
	pols   []*Policy
	active []*Rule    // rules whose self side holds, in evaluation order
	sets   []classSet // the peers each active rule matches
	memo   map[uint64]int32
}

// side returns (once) the class's policies for a direction.
func (cx *connectivity) side(self *class, dir Direction) *sideResult {
	if r, ok := cx.sides[dir][self]; ok {
		return r
	}
	r := &sideResult{self: self, dir: dir, pols: cx.e.applicable(self, viewEnforced, dir), memo: map[uint64]int32{}}
	for _, p := range r.pols {
		for i := range p.Rules[dir] {
			rule := &p.Rules[dir][i]
			selfSide := &rule.Dst
			if dir == Egress {
				selfSide = &rule.Src
			}
			if !rule.HTTP && !rule.Src.hasPorts() && selfSide.endpointMatches(self, dir == Egress) {
				r.active = append(r.active, rule)
				r.sets = append(r.sets, cx.peerSet(rule, dir))
			}
		}
	}
	cx.sides[dir][self] = r
	return r
}

// towards is what the side allows with peer (whose class index is pi): an answer id, or -1
// and the set itself when the answer is the pair's own. Rules whose answer depends on the peer
// beyond whether they match it (named ports or Services resolved on the destination, an IP
// version) make it so, as do more than 64 rules that hold for the class.
func (r *sideResult) towards(cx *connectivity, peer *class, pi int) (int32, ConnSet) {
	var mask uint64
	perPeer := len(r.active) > 64
	for i, rule := range r.active {
		if !r.sets[i].has(pi) {
			continue
		}
		mask |= 1 << (i % 64)
		perPeer = perPeer || rule.IPVersion != 0 || (r.dir == Egress && peerResolved(rule))
	}
	if !perPeer {
		if id, ok := r.memo[mask]; ok {
			return id, cx.answers[id]
		}
	}
	c := cx.evaluate(r.self, peer, r.dir, r.pols, func(rule *Rule) bool { return cx.endpoints(rule, r.self, peer, r.dir) })
	if perPeer {
		return -1, c
	}
	id := cx.intern(c)
	r.memo[mask] = id
	return id, c
}

// hasPorts reports whether the entity constrains ports. Connection sets carry destination
// ports only, so the map leaves out rules on source ports (and HTTP rules): it shows what the
// rules on destination ports and peers allow.
func (en *Entity) hasPorts() bool { return len(en.Ports) > 0 || len(en.NotPorts) > 0 }

// peerResolved reports whether a rule's ports are resolved on the destination endpoint.
func peerResolved(r *Rule) bool {
	if r.Dst.Services != nil {
		return true
	}
	for _, ps := range [2][]PortMatch{r.Dst.Ports, r.Dst.NotPorts} {
		for _, p := range ps {
			if p.Name != "" {
				return true
			}
		}
	}
	return false
}

// classSet is a set of workload classes by index.
type classSet []uint64

func (s classSet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

// peerSet returns (once per rule) the workload classes its peer side matches, looking only at
// the classes an index says it may.
func (cx *connectivity) peerSet(r *Rule, dir Direction) classSet {
	if s, ok := cx.peers[r]; ok {
		return s
	}
	set := make(classSet, (len(cx.classes)+63)/64)
	peerSide := &r.Src
	if dir == Egress {
		peerSide = &r.Dst
	}
	for _, pool := range cx.pools(peerSide) {
		for _, c := range pool {
			if i := cx.index[c]; !set.has(i) && peerSide.endpointMatches(c, dir == Ingress) {
				set[i/64] |= 1 << (i % 64)
			}
		}
	}
	cx.peers[r] = set
	return set
}

// endpoints reports whether the rule's endpoint constraints hold for self and peer.
func (cx *connectivity) endpoints(r *Rule, self, peer *class, dir Direction) bool {
	src, dst := peer, self
	if dir == Egress {
		src, dst = self, peer
	}
	if r.HTTP || r.Src.hasPorts() {
		return false
	}
	if r.IPVersion != 0 {
		if f := family(src, dst); f != 0 && f != r.IPVersion {
			return false
		}
	}
	return r.Src.endpointMatches(src, true) && r.Dst.endpointMatches(dst, false)
}

// pools returns the workload classes an entity may match, from the indexes by label and
// namespace.
func (cx *connectivity) pools(peerSide *Entity) [][]*class {
	var pools [][]*class
	switch {
	case peerSide.Peers != nil:
		for _, p := range peerSide.Peers {
			switch {
			case p.IPBlock != nil:
				pools = append(pools, cx.withIPs)
			case p.Pods != nil && len(p.Pods.EqualityRequirements()) > 0:
				pools = append(pools, cx.byLabel[p.Pods.EqualityRequirements()[0]])
			case p.NS == nil:
				pools = append(pools, cx.byNS[p.ns])
			default:
				pools = append(pools, cx.classes)
			}
		}
	case peerSide.scope == scopeOwn && peerSide.Sel == nil:
		pools = append(pools, cx.byNS[peerSide.ns])
	case peerSide.scope != scopeAny && peerSide.Sel != nil && len(peerSide.Sel.EqualityRequirements()) > 0:
		pools = append(pools, cx.byLabel[peerSide.Sel.EqualityRequirements()[0]])
	case peerSide.scope == scopeAny && len(peerSide.Nets) > 0:
		pools = append(pools, cx.withIPs)
	default:
		pools = append(pools, cx.classes)
	}
	return pools
}

// evaluate runs one direction's tiers over whole connection sets: what self allows with
// peer, considering only the rules matches accepts (the rules whose endpoints hold).
func (cx *connectivity) evaluate(self, peer *class, dir Direction, pols []*Policy, matches func(*Rule) bool) ConnSet {
	if !self.enforced() || len(pols) == 0 {
		if self.kind == EndpointHost && self.host != nil && len(self.host.Profiles) == 0 {
			return ConnSet{}
		}
		return AllConnections()
	}
	src, dst := peer, self
	if dir == Egress {
		src, dst = self, peer
	}
	undecided, allowed := AllConnections(), ConnSet{}
	tiers := cx.e.enforced.tiers
	for i := 0; i < len(pols); {
		tier := pols[i].Tier
		j := i
		for j < len(pols) && pols[j].Tier == tier {
			j++
		}
		var passed ConnSet
		for _, p := range pols[i:j] {
			for ri := range p.Rules[dir] {
				r := &p.Rules[dir][ri]
				if r.Action == ActionLog || !matches(r) {
					continue
				}
				m := r.packets(src, dst).Intersect(undecided)
				if m.IsEmpty() {
					continue
				}
				undecided = undecided.Subtract(m)
				switch r.Action {
				case ActionAllow:
					allowed = allowed.Union(m)
				case ActionPass:
					passed = passed.Union(m)
				}
			}
		}
		if tiers[tier].DefaultAction == ActionDeny {
			undecided = ConnSet{}
		}
		undecided = undecided.Union(passed)
		i = j
	}
	if self.kind == EndpointHost && len(self.host.Profiles) == 0 {
		return allowed
	}
	return allowed.Union(undecided)
}

// packets returns the connections a rule matches between endpoints it matches: its protocol,
// destination ports (named ports resolved on dst) and a Service's target ports.
func (r *Rule) packets(src, dst *class) ConnSet {
	if r.ICMP != nil || r.NotICMP != nil {
		return ConnSet{} // ICMP types are finer than a connection set
	}
	out := AllConnections()
	if r.Protocol.set {
		var only ConnSet
		only.addProtocol(flows.Protocol(r.Protocol.num))
		out = only
	}
	if r.NotProtocol.set {
		var not ConnSet
		not.addProtocol(flows.Protocol(r.NotProtocol.num))
		out = out.Subtract(not)
	}
	if len(r.Dst.Ports) > 0 {
		out = out.Intersect(portSet(r.Dst.Ports, r.Protocol, dst))
	}
	if len(r.Dst.NotPorts) > 0 {
		out = out.Subtract(portSet(r.Dst.NotPorts, r.Protocol, dst))
	}
	if r.Dst.Services != nil && dst != nil {
		var svc ConnSet
		if m := dst.service(r.Dst.Services); m != nil {
			for _, p := range m.ports {
				svc.addPorts(p.Proto, p.Port, p.Port)
			}
		}
		out = out.Intersect(svc)
	}
	return out
}

// portSet is the connection set of a port list, named ports resolved on dst.
func portSet(ports []PortMatch, ruleProto protoMatch, dst *class) ConnSet {
	var out ConnSet
	for _, p := range ports {
		protos := portProtos[:]
		if p.Proto != 0 {
			protos = []flows.Protocol{flows.Protocol(p.Proto)}
		} else if ruleProto.set {
			protos = []flows.Protocol{flows.Protocol(ruleProto.num)}
		}
		for _, proto := range protos {
			switch {
			case p.Any:
				out.addProtocol(proto)
			case p.Name != "":
				if dst == nil {
					continue
				}
				if n, ok := dst.namedPort(p.Name, uint8(proto)); ok {
					out.addPorts(proto, n, n)
				}
			default:
				out.addPorts(proto, p.Lo, p.Hi)
			}
		}
	}
	return out
}

// external returns the edges between a workload class and outside address space in one
// direction: the space is cut at every network the class's rules (and, when they use
// selectors, the network sets) name, each piece is evaluated once, and pieces with the same
// answer are printed together.
func (cx *connectivity) external(self *class, dir Direction) []ConnectivityEdge {
	var out []ConnectivityEdge
	for _, w := range cx.members[self] {
		out = append(out, cx.externalEdges(self, dir, w)...)
	}
	return out
}

// externalEdges is external for one member workload of self.
func (cx *connectivity) externalEdges(self *class, dir Direction, w *Workload) []ConnectivityEdge {
	groups := cx.externalGroups(self, dir)
	out := make([]ConnectivityEdge, 0, len(groups))
	for _, g := range groups {
		e := ConnectivityEdge{Src: g.peer, Dst: workloadPeer(w), Conns: g.conns}
		if dir == Egress {
			e.Src, e.Dst = e.Dst, e.Src
		}
		out = append(out, e)
	}
	return out
}

// extGroup is a piece of outside space with one answer.
type extGroup struct {
	peer  ConnectivityPeer
	conns ConnSet
}

// externalGroups computes (once per class and direction) the pieces of outside space and
// what self allows with each.
func (cx *connectivity) externalGroups(self *class, dir Direction) []extGroup {
	if g, ok := cx.ext[dir][self]; ok {
		return g
	}
	pols := cx.e.applicable(self, viewEnforced, dir)
	var cuts []netip.Prefix
	usesSelectors := false
	for _, p := range pols {
		for i := range p.Rules[dir] {
			r := &p.Rules[dir][i]
			cuts = appendCuts(cuts, r)
			peer := &r.Src
			if dir == Egress {
				peer = &r.Dst
			}
			usesSelectors = usesSelectors || peer.scope != scopeAny || peer.NotSel != nil
		}
	}
	if usesSelectors {
		for _, s := range cx.e.ids.sets {
			cuts = append(cuts, s.Nets...)
		}
	}
	spaces := []AddrRange{universe(false)}
	if cx.v6 {
		spaces = append(spaces, universe(true))
	}
	type group struct {
		conns  ConnSet
		ranges []AddrRange
	}
	var groups []*group
	for _, space := range spaces {
		for _, a := range atoms(space, cuts) {
			peer := cx.e.classOf(RangeEndpoint(a.String(), a.prefixes()...))
			conns := cx.evaluate(self, peer, dir, pols, func(r *Rule) bool { return cx.endpoints(r, self, peer, dir) })
			if conns.IsEmpty() {
				continue
			}
			var g *group
			for _, x := range groups {
				if x.conns.Equal(conns) {
					g = x
				}
			}
			if g == nil {
				g = &group{conns: conns}
				groups = append(groups, g)
			}
			g.ranges = append(g.ranges, a)
		}
	}
	out := make([]extGroup, len(groups))
	for i, g := range groups {
		out[i] = extGroup{peer: ConnectivityPeer{Ranges: mergeRanges(g.ranges)}, conns: g.conns}
	}
	cx.ext[dir][self] = out
	return out
}

// appendCuts appends the networks a rule names.
func appendCuts(out []netip.Prefix, r *Rule) []netip.Prefix {
	for _, en := range [...]*Entity{&r.Src, &r.Dst} {
		out = append(out, en.Nets...)
		out = append(out, en.NotNets...)
		for _, p := range en.Peers {
			if p.IPBlock != nil {
				out = append(out, p.IPBlock.CIDR)
				out = append(out, p.IPBlock.Except...)
			}
		}
	}
	return out
}
