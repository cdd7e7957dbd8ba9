package netpol

import (
	"reflect"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
)

// ShadowCause says why a rule can never decide.
type ShadowCause uint8

const (
	// ShadowedByEarlierRule: an earlier rule of the same policy matches every packet.
	ShadowedByEarlierRule ShadowCause = iota + 1
	// ShadowedBySameMatch: an earlier rule of the same policy matches exactly the same packets.
	ShadowedBySameMatch
	// ShadowedByPolicy: a policy evaluated earlier (in the same tier or an earlier one) selects
	// every endpoint this one can and its first rule in the direction matches every packet.
	ShadowedByPolicy
)

// Shadow is one rule that can never decide, and the rule that always decides first.
type Shadow struct {
	Dir   Direction
	Index int // the shadowed rule's position in spec.ingress or spec.egress
	Cause ShadowCause
	// By, ByIndex and ByAction name the deciding rule; ByTier is its policy's tier.
	By       PolicyRef
	ByIndex  int
	ByAction Action
	ByTier   string
}

// Shadowed returns the rules of p that can never decide, in the cluster's evaluation order
// (ComparePolicies). The analysis is conservative: it reports only what certainly shadows. A
// staged policy has no enforced effect and reports nothing.
func (c *Cluster) Shadowed(p *Policy) []Shadow {
	if p.Ref.Kind.Staged() {
		return nil
	}
	var out []Shadow
	order := c.EvaluationOrder()
	for _, dir := range []Direction{Ingress, Egress} {
		rules := p.Rules[dir]
		if !p.Applies(dir) || len(rules) == 0 {
			continue
		}
		if q, ok := shadowingPolicy(c, order, p, dir); ok {
			first := q.Rules[dir][0]
			for _, r := range rules {
				out = append(out, Shadow{Dir: dir, Index: r.Index, Cause: ShadowedByPolicy,
					By: q.Ref, ByIndex: first.Index, ByAction: first.Action, ByTier: q.Tier})
			}
			continue
		}
		for j := 1; j < len(rules); j++ {
			for i := 0; i < j; i++ {
				a := rules[i]
				if a.Action != ActionAllow && a.Action != ActionDeny && a.Action != ActionPass {
					continue
				}
				var cause ShadowCause
				switch {
				case matchesEverything(a):
					cause = ShadowedByEarlierRule
				case sameMatch(a, rules[j]):
					cause = ShadowedBySameMatch
				default:
					continue
				}
				out = append(out, Shadow{Dir: dir, Index: rules[j].Index, Cause: cause,
					By: p.Ref, ByIndex: a.Index, ByAction: a.Action, ByTier: p.Tier})
				break
			}
		}
	}
	return out
}

// shadowingPolicy finds a policy evaluated before p that decides every packet of every
// endpoint p selects in dir: one that selects all endpoints in p's reach and whose first rule
// in dir matches everything with Allow or Deny (or Pass, within p's own tier). order is the
// cluster's EvaluationOrder.
func shadowingPolicy(c *Cluster, order []*Policy, p *Policy, dir Direction) (*Policy, bool) {
	for _, q := range order {
		if q == p || c.ComparePolicies(q, p) >= 0 {
			break
		}
		if !q.Applies(dir) || len(q.Rules[dir]) == 0 {
			continue
		}
		first := q.Rules[dir][0]
		decisive := first.Action == ActionAllow || first.Action == ActionDeny || (q.Tier == p.Tier && first.Action == ActionPass)
		if decisive && matchesEverything(first) && selectsAllOf(q, p) {
			return q, true
		}
	}
	return nil, false
}

// selectsAllOf reports whether q certainly selects every endpoint p can: q selects all() with
// no namespace, service account or host-only restriction, in p's namespace or globally, and
// selects host endpoints too when p can.
func selectsAllOf(q, p *Policy) bool {
	if q.sel != nil && !q.sel.IsAll() {
		return false
	}
	if q.namespace != "" && q.namespace != p.namespace {
		return false
	}
	if q.nsSel != nil || q.saSel != nil || q.hostOnly || (q.Kubernetes && !p.Kubernetes && p.namespace == "") {
		return false
	}
	if g, ok := q.Object.(*calicov3.GlobalNetworkPolicy); ok && g.Spec.ApplyOnForward {
		return false
	}
	return true
}

// matchesEverything reports whether a rule constrains nothing: any protocol, peer and port.
func matchesEverything(r Rule) bool {
	var zero Rule
	return r.Protocol == zero.Protocol && r.NotProtocol == zero.NotProtocol && r.ICMP == nil && r.NotICMP == nil &&
		r.IPVersion == 0 && !r.HTTP && emptyEntity(r.Src) && emptyEntity(r.Dst)
}

func emptyEntity(e Entity) bool {
	return len(e.Peers) == 0 && len(e.Nets) == 0 && len(e.NotNets) == 0 && e.Sel == nil && e.NotSel == nil &&
		e.NSSel == nil && e.SA == nil && e.Services == nil && len(e.Ports) == 0 && len(e.NotPorts) == 0
}

// sameMatch reports whether two rules match exactly the same packets as written.
func sameMatch(a, b Rule) bool {
	a.Index, a.Action, b.Index, b.Action = 0, 0, 0, 0
	return reflect.DeepEqual(a, b)
}
