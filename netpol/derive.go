package netpol

import "net/netip"

// An engine WithChange derives shares with its parent everything the change cannot alter.
// Each piece below is what a full rebuild would compute, obtained from the parent's instead:
//
//   - a view's policy set is the parent's when the change leaves the view's members alone,
//     the parent's with the one member replaced after a policy change (policySet.with), and
//     rebuilt only after a tier change, which reorders whole tiers;
//   - address pieces are the parent's, cut further at the nets the change adds;
//   - an endpoint's resolution is the parent's when it read no identity object the change
//     altered (keepsResolution);
//   - a class's applicable policies are its parent class's when the policy set is the
//     parent's, or differs from it by one policy that selects the class neither before nor
//     after the change.
//
// TestDerivedEngineEqualsRebuilt checks derived engines against engines built from scratch.

// derivePolicies returns a view's policy set.
func (e *Engine) derivePolicies(v view) *policySet {
	p, ch := e.parent, e.change
	switch {
	case p == nil || ch.tier != "":
		return buildPolicySet(e.cluster, v)
	case !ch.policy:
		return p.policies(v)
	}
	before, after := member(p.cluster, v, ch.ref), member(e.cluster, v, ch.ref)
	if before == after {
		return p.policies(v)
	}
	if ps, ok := p.policies(v).with(before, after, e.cluster); ok {
		return ps
	}
	return buildPolicySet(e.cluster, v)
}

// deriveAtoms returns the address pieces. Pieces need only be no coarser than the nets of
// the policies and sets: each must lie wholly inside or outside every one of them, so that
// its addresses evaluate alike. A finer cut evaluates the same, so a derived engine keeps the
// parent's cuts (those of nets the change removed too) and adds the change's.
func (e *Engine) deriveAtoms() *addrAtoms {
	if e.parent == nil {
		return buildAddrAtoms(e.cluster, e.ids)
	}
	return e.parent.atoms().refine(e.change.cuts)
}

// inheritedApplicable returns the parent class's applicable policies when they stand in this
// engine too, else nil.
func (e *Engine) inheritedApplicable(cl *class, v view) *[2][]*Policy {
	if cl.parent == nil {
		return nil
	}
	lists := cl.parent.pols[v].Load()
	if lists == nil {
		return nil
	}
	ps, pps := e.policies(v), e.parent.policies(v)
	if ps == pps || ps.from == pps && !selects(ps.removed, cl) && !selects(ps.added, cl) {
		return lists
	}
	return nil
}

func selects(p *Policy, cl *class) bool { return p != nil && appliesTo(p, cl.resolution) }

// keepsResolution reports whether ep, which the parent engine resolved to r against the
// identity index before, resolves to the same after the change, against after: no object its
// resolution reads was altered.
func (ch *change) keepsResolution(before, after *identityIndex, ep *Endpoint, r *resolution) bool {
	if addressMoved(before, after, ep) {
		// An address resolves to the pod or host that has it, if any.
		return false
	}
	switch ch.identity {
	case identityNone:
		return before == after
	case identityNamespace:
		// Namespace labels are read for the endpoint's namespace and its sets' namespaces.
		return !r.inNamespace(ch.namespace)
	case identityNamespaced:
		// Workloads, pods, service accounts and Services are read in the endpoint's own
		// namespace, by workload endpoints (addresses were compared above).
		return ep.Kind != EndpointWorkload || ep.Namespace != ch.namespace
	case identitySets:
		// A set is read by name, and by the endpoints whose addresses it may contain.
		named := ep.Kind == EndpointNetworkSet && ep.Namespace == ch.set.Namespace && ep.Name == ch.set.Name
		return !named && !addrsOverlap(r.ips, r.nets, ch.nets)
	case identityHosts:
		// Host endpoints are read by name and node (addresses were compared above).
		return ep.Kind != EndpointHost
	}
	return false
}

// inNamespace reports whether the resolution read namespace ns's labels.
func (r *resolution) inNamespace(ns string) bool {
	if r.ns == ns {
		return true
	}
	for i := range r.ids {
		if r.ids[i].ns == ns {
			return true
		}
	}
	return false
}

// policyCuts appends the nets p's rules name, which cut address space into pieces.
func policyCuts(dst []netip.Prefix, p *Policy) []netip.Prefix {
	for _, d := range [...]Direction{Ingress, Egress} {
		for i := range p.Rules[d] {
			dst = appendCuts(dst, &p.Rules[d][i])
		}
	}
	return dst
}
