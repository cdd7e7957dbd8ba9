package netpol

import (
	"sync"
	"sync/atomic"
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

	// parent and change record how WithChange derived this engine: what it shares with the
	// parent (see derive.go), and what Impact need evaluate.
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
	return newEngine(c.Clone(), nil, nil)
}

// newEngine returns an engine over c, which it freezes: one built from scratch when parent
// is nil, else one derived from parent by ch.
func newEngine(c *Cluster, parent *Engine, ch *change) *Engine {
	e := &Engine{
		cluster: c, ids: c.identities(), parent: parent, change: ch,
		byKey: map[string]*class{}, byContent: map[string]*class{},
	}
	if parent != nil {
		e.slot = 1 - parent.slot
	}
	c.freeze()
	e.enforced = e.derivePolicies(viewEnforced)
	return e
}

// Cluster returns the engine's snapshot, which refuses changes; Clone it to change a copy.
func (e *Engine) Cluster() *Cluster { return e.cluster }

func (e *Engine) policies(v view) *policySet {
	if v == viewEnforced {
		return e.enforced
	}
	e.pendingOnce.Do(func() { e.pending = e.derivePolicies(viewPending) })
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

// lookup returns the class this engine has interned ep to, or nil; it never resolves.
func (e *Engine) lookup(ep *Endpoint) *class {
	if b := ep.bound[e.slot].Load(); b != nil && b.engine == e {
		return b.class
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.byKey[ep.intrinsicKey()]
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
	r, pc := e.resolve(ep)
	e.mu.Lock()
	defer e.mu.Unlock()
	if cl, ok := e.byKey[key]; ok {
		return cl
	}
	if cl, ok := e.byContent[r.key]; ok {
		e.byKey[key] = cl
		return cl
	}
	cl = &class{resolution: r, parent: pc, id: e.nclasses.Add(1) - 1}
	e.byContent[r.key] = cl
	e.byKey[key] = cl
	return cl
}

// resolve resolves ep against the engine's cluster. A derived engine takes its parent's
// resolution, and the parent's class with it, when the change cannot alter it.
func (e *Engine) resolve(ep *Endpoint) (*resolution, *class) {
	if e.parent != nil {
		if pc := e.parent.lookup(ep); pc != nil && e.change.keepsResolution(e.parent.ids, e.ids, ep, pc.resolution) {
			return pc.resolution, pc
		}
	}
	return resolve(e.ids, e.cluster, ep), nil
}

func (e *Engine) atoms() *addrAtoms {
	e.atomsOnce.Do(func() { e.addrs = e.deriveAtoms() })
	return e.addrs
}

// applicable returns the policies selecting cl for dir, in evaluation order.
func (e *Engine) applicable(cl *class, v view, dir Direction) []*Policy {
	lists := cl.pols[v].Load()
	if lists == nil {
		lists = e.findApplicable(cl, v)
		cl.pols[v].Store(lists)
	}
	return lists[dir]
}

// findApplicable returns the policies selecting cl, per direction, in evaluation order.
func (e *Engine) findApplicable(cl *class, v view) *[2][]*Policy {
	if lists := e.inheritedApplicable(cl, v); lists != nil {
		return lists
	}
	var both [2][]*Policy
	for _, p := range e.policies(v).candidates(cl) {
		for _, d := range [...]Direction{Ingress, Egress} {
			if p.Types[d] {
				both[d] = append(both[d], p)
			}
		}
	}
	return &both
}
