package netpol

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/flowguard/flowguard/netpol/selector"
)

// Engine answers questions about one frozen snapshot of a Cluster. It is safe for concurrent
// use. Everything it derives (endpoint classes, applicable policies, verdicts) is computed on
// first use and kept for the engine's lifetime.
type Engine struct {
	cluster *Cluster
	ids     *identityIndex
	// slot is the Endpoint binding slot this engine uses; an engine and the one WithChange
	// derives from it use different slots, so comparing them does not thrash.
	slot int

	enforced    *policySet
	pendingOnce sync.Once
	pending     *policySet

	atomsOnce sync.Once
	addrs     *addrAtoms

	mu        sync.RWMutex
	byKey     map[string]*class // intrinsic endpoint key → class
	byContent map[string]*class // resolved identity → class
	nclasses  atomic.Int32

	// parent and change record how WithChange derived this engine, for Impact.
	parent *Engine
	change *change
}

// view selects the enforced policies or the pending ones (staged policies enforced).
type view uint8

const (
	viewEnforced view = iota
	viewPending
)

// NewEngine returns an engine over a snapshot of c; later changes to c do not affect it.
func NewEngine(c *Cluster) *Engine {
	c.identities() // cached in c, so engines over the same cluster share it
	return newEngine(c.Clone(), nil, nil, 0)
}

func newEngine(c *Cluster, parentPolicies *policySet, parent *Engine, slot int) *Engine {
	e := &Engine{
		cluster: c, ids: c.identities(), slot: slot,
		byKey: map[string]*class{}, byContent: map[string]*class{},
	}
	c.frozen = true
	if parentPolicies != nil {
		e.enforced = parentPolicies
	} else {
		e.enforced = buildPolicySet(c, viewEnforced)
	}
	return e
}

// Cluster returns the engine's snapshot, which refuses changes; Clone it to change a copy.
func (e *Engine) Cluster() *Cluster { return e.cluster }

func (e *Engine) policies(v view) *policySet {
	if v == viewEnforced {
		return e.enforced
	}
	e.pendingOnce.Do(func() { e.pending = buildPolicySet(e.cluster, viewPending) })
	return e.pending
}

// classOf resolves an endpoint in this engine, through the endpoint's binding cache.
func (e *Engine) classOf(ep *Endpoint) *class {
	if b := ep.bound[e.slot].Load(); b != nil && b.engine == e {
		return b.class
	}
	cl := e.intern(ep)
	ep.bound[e.slot].Store(&binding{engine: e, class: cl})
	return cl
}

func (e *Engine) intern(ep *Endpoint) *class {
	key := ep.intrinsicKey()
	e.mu.RLock()
	cl, ok := e.byKey[key]
	e.mu.RUnlock()
	if ok {
		return cl
	}
	if ep.Kind == EndpointExternal && len(ep.IPs) == 1 && len(ep.Nets) == 0 && !e.ids.knows(ep.IPs[0]) {
		// An outside address evaluates as the piece of address space it falls in.
		cl := e.classOf(e.atoms().endpoint(ep.IPs[0]))
		e.mu.Lock()
		e.byKey[key] = cl
		e.mu.Unlock()
		return cl
	}
	r := resolve(e.ids, e.cluster, ep)
	ck := r.contentKey()
	e.mu.Lock()
	defer e.mu.Unlock()
	if cl, ok := e.byKey[key]; ok {
		return cl
	}
	if cl, ok := e.byContent[ck]; ok {
		e.byKey[key] = cl
		return cl
	}
	r.id = e.nclasses.Add(1) - 1
	e.byContent[ck] = r
	e.byKey[key] = r
	return r
}

func (e *Engine) atoms() *addrAtoms {
	e.atomsOnce.Do(func() { e.addrs = buildAddrAtoms(e.cluster, e.ids) })
	return e.addrs
}

// applicable returns the policies selecting cl for dir, in evaluation order.
func (e *Engine) applicable(cl *class, v view, dir Direction) []*Policy {
	cl.once[v].Do(func() {
		ps := e.policies(v)
		var both [2][]*Policy
		for _, p := range ps.candidates(cl) {
			for _, d := range [...]Direction{Ingress, Egress} {
				if p.Types[d] {
					both[d] = append(both[d], p)
				}
			}
		}
		cl.pols[v] = &both
	})
	return cl.pols[v][dir]
}

// policySet is one view's policies in evaluation order, indexed by what they select.
type policySet struct {
	ordered []*Policy
	rank    map[*Policy]int
	tiers   map[string]*Tier
	// Policies are indexed by the first key == value their selector requires; those whose
	// selector requires none are "rest". Namespaced policies are indexed per namespace.
	global     map[selector.Requirement][]*Policy
	globalRest []*Policy
	inNS       map[nsRequirement][]*Policy
	nsRest     map[string][]*Policy
}

type nsRequirement struct {
	ns string
	selector.Requirement
}

func buildPolicySet(c *Cluster, v view) *policySet {
	var pols []*Policy
	if v == viewEnforced {
		for _, p := range c.policies.m {
			if !p.Ref.Kind.Staged() {
				pols = append(pols, p)
			}
		}
	} else {
		pols = pendingPolicies(c)
	}
	ps := &policySet{
		rank: make(map[*Policy]int, len(pols)), tiers: map[string]*Tier{},
		global: map[selector.Requirement][]*Policy{}, inNS: map[nsRequirement][]*Policy{},
		nsRest: map[string][]*Policy{},
	}
	for _, p := range pols {
		if _, ok := ps.tiers[p.Tier]; !ok {
			ps.tiers[p.Tier] = c.tier(p.Tier)
		}
	}
	slices.SortFunc(pols, func(a, b *Policy) int {
		if a.Tier != b.Tier {
			return compareTiers(ps.tiers[a.Tier], ps.tiers[b.Tier])
		}
		if c := compareOrder(a.Order, a.HasOrder, b.Order, b.HasOrder, a.sortKey, b.sortKey); c != 0 {
			return c
		}
		return compareRefs(a.Ref, b.Ref)
	})
	ps.ordered = pols
	for i, p := range pols {
		ps.rank[p] = i
		reqs := p.sel.EqualityRequirements()
		switch {
		case p.namespace == "" && len(reqs) == 0:
			ps.globalRest = append(ps.globalRest, p)
		case p.namespace == "":
			ps.global[reqs[0]] = append(ps.global[reqs[0]], p)
		case len(reqs) == 0:
			ps.nsRest[p.namespace] = append(ps.nsRest[p.namespace], p)
		default:
			k := nsRequirement{p.namespace, reqs[0]}
			ps.inNS[k] = append(ps.inNS[k], p)
		}
	}
	return ps
}

// pendingPolicies is the enforced set with every staged policy applied: Set and Learn replace
// (or create) their enforced twin, Delete removes it, Ignore does nothing.
func pendingPolicies(c *Cluster) []*Policy {
	byRef := map[PolicyRef]*Policy{}
	for ref, p := range c.policies.m {
		if !ref.Kind.Staged() {
			byRef[ref] = p
		}
	}
	for ref, p := range c.policies.m {
		if !ref.Kind.Staged() || p.StagedAction == StagedIgnore {
			continue
		}
		twin := PolicyRef{Kind: ref.Kind.Enforced(), Namespace: ref.Namespace, Name: ref.Name}
		delete(byRef, twin)
		if p.StagedAction != StagedDelete {
			byRef[ref] = p
		}
	}
	out := make([]*Policy, 0, len(byRef))
	for _, p := range byRef {
		out = append(out, p)
	}
	return out
}

// candidates returns the policies that select cl, in evaluation order, looking only at the
// index buckets cl's labels can reach.
func (ps *policySet) candidates(cl *class) []*Policy {
	if !cl.enforced() {
		return nil
	}
	var out []*Policy
	add := func(list []*Policy) {
		for _, p := range list {
			if appliesTo(p, cl) {
				out = append(out, p)
			}
		}
	}
	add(ps.globalRest)
	if cl.ns != "" {
		add(ps.nsRest[cl.ns])
	}
	for k, v := range cl.labels {
		r := selector.Requirement{Key: k, Value: v}
		add(ps.global[r])
		if cl.ns != "" {
			add(ps.inNS[nsRequirement{cl.ns, r}])
		}
	}
	slices.SortFunc(out, func(a, b *Policy) int { return ps.rank[a] - ps.rank[b] })
	return out
}

// appliesTo reports whether p selects the endpoint: Kubernetes and namespaced Calico
// policies select pods of their namespace; global ones pods in the namespaces their
// namespaceSelector matches and host endpoints; doNotTrack and preDNAT policies only hosts.
func appliesTo(p *Policy, cl *class) bool {
	switch {
	case !cl.enforced():
		return false
	case p.hostOnly && cl.kind != EndpointHost:
		return false
	case p.namespace != "":
		if cl.kind != EndpointWorkload || cl.ns != p.namespace {
			return false
		}
	case p.nsSel != nil:
		if !p.nsSel.MatchesNamespaceOf(nsLabelsOrNil(cl)) {
			return false
		}
	}
	if p.sel != nil && !p.sel.Matches(cl.labels) {
		return false
	}
	if p.saSel != nil && (cl.kind != EndpointWorkload || !p.saSel.Matches(cl.saLabels)) {
		return false
	}
	return true
}

// nsLabelsOrNil returns the endpoint's namespace labels, or an untyped nil outside
// namespaces (a nil selector.Map inside the interface would read as namespaced).
func nsLabelsOrNil(cl *class) selector.Labels {
	if cl.nsLabels == nil {
		return nil
	}
	return cl.nsLabels
}
