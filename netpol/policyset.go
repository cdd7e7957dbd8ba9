package netpol

import (
	"maps"
	"slices"

	"github.com/flowguard/flowguard/netpol/selector"
)

// policySet is one view's policies, indexed by what they select; candidates puts those that
// select an endpoint in evaluation order. It is immutable: with derives the set after one
// policy is replaced, sharing everything else.
type policySet struct {
	tiers map[string]*Tier
	// scopes index policies by where they apply: the namespace of namespaced ones, "" for
	// global ones.
	scopes layered[*policyScope]

	// from, removed and added record how with derived this set: from with removed taken out
	// and added put in (either may be nil). from is nil for a set built from a cluster.
	from           *policySet
	removed, added *Policy
}

// policyScope indexes one scope's policies by the first key == value their selector
// requires; those whose selector requires none are in rest. Lists are in no order.
type policyScope struct {
	rest  []*Policy
	byReq map[selector.Requirement][]*Policy
}

func buildPolicySet(c *Cluster, v view) *policySet {
	var pols []*Policy
	if v == viewEnforced {
		for _, p := range c.policies.all() {
			if !p.Ref.Kind.Staged() {
				pols = append(pols, p)
			}
		}
	} else {
		pols = pendingPolicies(c)
	}
	ps := &policySet{tiers: map[string]*Tier{}}
	scopes := map[string]*policyScope{}
	for _, p := range pols {
		if _, ok := ps.tiers[p.Tier]; !ok {
			ps.tiers[p.Tier] = c.tier(p.Tier)
		}
		sc := scopes[p.namespace]
		if sc == nil {
			sc = &policyScope{byReq: map[selector.Requirement][]*Policy{}}
			scopes[p.namespace] = sc
		}
		if r, ok := indexKey(p); ok {
			sc.byReq[r] = append(sc.byReq[r], p)
		} else {
			sc.rest = append(sc.rest, p)
		}
	}
	ps.scopes = layered[*policyScope]{base: scopes}
	return ps
}

// compare orders policies as Felix evaluates them (order.go).
func (ps *policySet) compare(a, b *Policy) int {
	return comparePolicies(ps.tiers[a.Tier], ps.tiers[b.Tier], a, b)
}

// indexKey is the requirement a policy is indexed by, if its selector has one.
func indexKey(p *Policy) (selector.Requirement, bool) {
	if reqs := p.sel.EqualityRequirements(); len(reqs) > 0 {
		return reqs[0], true
	}
	return selector.Requirement{}, false
}

// with returns the set with removed taken out and added put in (either may be nil), as
// buildPolicySet would build it for the cluster after that change: added goes into the index
// bucket its selector leads to. Only the scopes and buckets touched are copied; c is the
// cluster after the change, for added's tier. It reports false when removed is not in the
// set.
func (ps *policySet) with(removed, added *Policy, c *Cluster) (*policySet, bool) {
	next := &policySet{tiers: ps.tiers, scopes: ps.scopes, from: ps, removed: removed, added: added}
	if removed != nil {
		sc, _ := ps.scopes.get(removed.namespace)
		if !sc.holds(removed) {
			return nil, false
		}
		next.edit(removed.namespace, func(sc *policyScope) { sc.remove(removed) })
	}
	if added != nil {
		if _, ok := ps.tiers[added.Tier]; !ok {
			next.tiers = maps.Clone(ps.tiers)
			next.tiers[added.Tier] = c.tier(added.Tier)
		}
		next.edit(added.namespace, func(sc *policyScope) { sc.add(added) })
	}
	return next, true
}

// edit replaces the named scope by an edited copy, dropping it when left empty.
func (ps *policySet) edit(ns string, f func(*policyScope)) {
	sc := &policyScope{byReq: map[selector.Requirement][]*Policy{}}
	if old, ok := ps.scopes.get(ns); ok {
		sc.rest, sc.byReq = old.rest, maps.Clone(old.byReq)
	}
	f(sc)
	ps.scopes = ps.scopes.with(ns, sc, len(sc.rest) > 0 || len(sc.byReq) > 0)
}

// holds reports whether p is in the scope, where its selector places it.
func (sc *policyScope) holds(p *Policy) bool {
	if sc == nil {
		return false
	}
	if r, ok := indexKey(p); ok {
		return slices.Contains(sc.byReq[r], p)
	}
	return slices.Contains(sc.rest, p)
}

// add and remove edit a scope copy; lists are copied, never written, since other sets may
// share them.
func (sc *policyScope) add(p *Policy) {
	if r, ok := indexKey(p); ok {
		sc.byReq[r] = append(slices.Clip(sc.byReq[r]), p)
	} else {
		sc.rest = append(slices.Clip(sc.rest), p)
	}
}

func (sc *policyScope) remove(p *Policy) {
	without := func(list []*Policy) []*Policy {
		return slices.DeleteFunc(slices.Clone(list), func(q *Policy) bool { return q == p })
	}
	r, ok := indexKey(p)
	if !ok {
		sc.rest = without(sc.rest)
		return
	}
	if l := without(sc.byReq[r]); len(l) > 0 {
		sc.byReq[r] = l
	} else {
		delete(sc.byReq, r)
	}
}

// pendingPolicies is the enforced set with every staged policy applied: Set and Learn replace
// (or create) their enforced twin, Delete removes it, Ignore does nothing.
func pendingPolicies(c *Cluster) []*Policy {
	byRef := map[PolicyRef]*Policy{}
	for ref, p := range c.policies.all() {
		if !ref.Kind.Staged() {
			byRef[ref] = p
		}
	}
	for ref, p := range c.policies.all() {
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

// member returns the policy a view holds for one name: the enforced policy of kind
// ref.Kind.Enforced() and ref's namespace and name, or in the pending view the staged twin
// standing in for it (nil for stagedAction Delete). It is pendingPolicies for one name, so a
// change to one policy replaces member(before) by member(after) in each view.
func member(c *Cluster, v view, ref PolicyRef) *Policy {
	enforced := PolicyRef{Kind: ref.Kind.Enforced(), Namespace: ref.Namespace, Name: ref.Name}
	if v == viewPending {
		staged := PolicyRef{Kind: enforced.Kind.stagedTwin(), Namespace: ref.Namespace, Name: ref.Name}
		if p := c.policies.lookup(staged); p != nil && p.StagedAction != StagedIgnore {
			if p.StagedAction == StagedDelete {
				return nil
			}
			return p
		}
	}
	return c.policies.lookup(enforced)
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
			if appliesTo(p, cl.resolution) {
				out = append(out, p)
			}
		}
	}
	var scopes [2]*policyScope
	scopes[0], _ = ps.scopes.get("")
	if cl.ns != "" {
		scopes[1], _ = ps.scopes.get(cl.ns)
	}
	for _, sc := range scopes {
		if sc == nil {
			continue
		}
		add(sc.rest)
		for k, v := range cl.labels {
			add(sc.byReq[selector.Requirement{Key: k, Value: v}])
		}
	}
	slices.SortFunc(out, ps.compare)
	return out
}

// appliesTo reports whether p selects the endpoint: Kubernetes and namespaced Calico
// policies select pods of their namespace; global ones pods in the namespaces their
// namespaceSelector matches and host endpoints; doNotTrack and preDNAT policies only hosts.
func appliesTo(p *Policy, cl *resolution) bool {
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
func nsLabelsOrNil(cl *resolution) selector.Labels {
	if cl.nsLabels == nil {
		return nil
	}
	return cl.nsLabels
}
