package netpol

// Queries about endpoints and policies, for callers that need more than a verdict (coverage,
// usage and recommendation rules).

// Policies returns the enforced policies that select ep for dir, in evaluation order (tier,
// order, name). An empty result means no policy isolates ep in that direction.
func (e *Engine) Policies(ep *Endpoint, dir Direction) []*Policy {
	return e.applicable(e.classOf(ep), viewEnforced, dir)
}

// PendingPolicies is Policies with staged policies enforced.
func (e *Engine) PendingPolicies(ep *Endpoint, dir Direction) []*Policy {
	return e.applicable(e.classOf(ep), viewPending, dir)
}

// Selects reports whether p applies to ep (its selector, namespace and service account
// scope), whatever its types.
func (e *Engine) Selects(p *Policy, ep *Endpoint) bool {
	return appliesTo(p, e.classOf(ep).resolution)
}

// Resolve returns the workload ep resolves to in this engine's cluster (a flow's aggregated
// name, a pod's owner), or nil when the cluster has none.
func (e *Engine) Resolve(ep *Endpoint) *Workload {
	return e.classOf(ep).workload
}

// Scope says where a Calico entity's selector fields look: "any" (no selector field: any
// address), "own" (the policy's namespace, returned as ns), "all" (every endpoint: a global
// policy without namespaceSelector) or "selected" (namespaces NSSel matches).
func (en *Entity) Scope() (scope, ns string) {
	switch en.scope {
	case scopeOwn:
		return "own", en.ns
	case scopeAll:
		return "all", ""
	case scopeSelected:
		return "selected", ""
	}
	return "any", ""
}

// Namespace returns the policy's namespace, empty for global kinds.
func (p *Policy) Namespace() string { return p.namespace }

// ProtocolNumber returns the protocol the rule is limited to, if any.
func (r *Rule) ProtocolNumber() (uint8, bool) { return r.Protocol.num, r.Protocol.set }

// NotProtocolNumber returns the protocol the rule excludes, if any.
func (r *Rule) NotProtocolNumber() (uint8, bool) { return r.NotProtocol.num, r.NotProtocol.set }
