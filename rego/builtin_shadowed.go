package rego

import (
	"cmp"
	"fmt"
	"reflect"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"

	"github.com/flowguard/flowguard/netpol"
)

// shadow is one rule that can never decide, and what decides first.
type shadow struct {
	dir       netpol.Direction
	index     int
	by, cause string
}

// shadowed answers flowguard.shadowed(policy): the rules of a Calico policy that can never
// decide, because an earlier rule of the policy matches everything (or exactly what they
// match), an earlier policy of the tier selects every endpoint this one can and has a rule
// that matches everything, or an earlier tier does so with Allow or Deny. The analysis is
// conservative: it reports only what certainly shadows.
func (d *decision) shadowed(args []*ast.Term) (ast.Value, error) {
	_, ref, err := d.policyArg(args[0])
	if err != nil {
		return nil, err
	}
	w, err := d.world()
	if err != nil {
		return nil, err
	}
	p := w.Cluster().Policy(ref)
	out := ast.NewArray()
	if p == nil || p.Kubernetes || ref.Kind.Staged() {
		return out, nil
	}
	for _, s := range shadows(w.Cluster(), p) {
		out = out.Append(ast.NewTerm(ast.NewObject(
			ast.Item(ast.StringTerm("direction"), ast.StringTerm(dirName(s.dir))),
			ast.Item(ast.StringTerm("index"), ast.IntNumberTerm(s.index)),
			ast.Item(ast.StringTerm("path"), ast.StringTerm(fmt.Sprintf("spec.%s[%d]", dirName(s.dir), s.index))),
			ast.Item(ast.StringTerm("by"), ast.StringTerm(s.by)),
			ast.Item(ast.StringTerm("reason"), ast.StringTerm(s.cause)),
		)))
	}
	return out, nil
}

func shadows(c *netpol.Cluster, p *netpol.Policy) []shadow {
	var out []shadow
	tierRank := map[string]int{}
	for i, t := range c.Tiers() {
		tierRank[t.Name] = i
	}
	for _, dir := range []netpol.Direction{netpol.Ingress, netpol.Egress} {
		rules := p.Rules[dir]
		if !p.Applies(dir) || len(rules) == 0 {
			continue
		}
		if by, cause, ok := shadowingPolicy(c, p, dir, tierRank); ok {
			for _, r := range rules {
				out = append(out, shadow{dir: dir, index: r.Index, by: by, cause: cause})
			}
			continue
		}
		for j := 1; j < len(rules); j++ {
			for i := 0; i < j; i++ {
				a := rules[i]
				if a.Action != netpol.ActionAllow && a.Action != netpol.ActionDeny && a.Action != netpol.ActionPass {
					continue
				}
				path := fmt.Sprintf("spec.%s[%d]", dirName(dir), a.Index)
				var cause string
				switch {
				case matchesEverything(a):
					cause = fmt.Sprintf("%s (%s) matches every packet, so evaluation never reaches it", path, a.Action)
				case sameMatch(a, rules[j]):
					cause = fmt.Sprintf("%s (%s) matches exactly the same packets and comes first", path, a.Action)
				default:
					continue
				}
				out = append(out, shadow{dir: dir, index: rules[j].Index, by: policyText(p.Ref) + " " + path, cause: cause})
				break
			}
		}
	}
	return out
}

// shadowingPolicy finds an earlier policy that decides every packet of every endpoint p
// selects in dir: one that selects all endpoints in p's reach and whose first rule in dir
// matches everything with Allow or Deny (or Pass, within p's own tier).
func shadowingPolicy(c *netpol.Cluster, p *netpol.Policy, dir netpol.Direction, tierRank map[string]int) (by, cause string, ok bool) {
	for _, q := range c.Policies() {
		if q == p || q.Ref.Kind.Staged() || !q.Applies(dir) || len(q.Rules[dir]) == 0 || !before(q, p, tierRank) {
			continue
		}
		first := q.Rules[dir][0]
		sameTier := q.Tier == p.Tier
		decisive := first.Action == netpol.ActionAllow || first.Action == netpol.ActionDeny || (sameTier && first.Action == netpol.ActionPass)
		if !decisive || !matchesEverything(first) || !selectsAllOf(q, p) {
			continue
		}
		where := "an earlier policy of tier " + q.Tier
		if !sameTier {
			where = "earlier tier " + q.Tier
		}
		by = fmt.Sprintf("%s spec.%s[%d]", policyText(q.Ref), dirName(dir), first.Index)
		return by, fmt.Sprintf("%s, %s, selects every endpoint this policy does and its first %s rule (%s) matches every packet",
			policyText(q.Ref), where, dirName(dir), first.Action), true
	}
	return "", "", false
}

// before reports whether q is evaluated before p: an earlier tier, or the same tier with a
// lower order (unordered last), then by name.
func before(q, p *netpol.Policy, tierRank map[string]int) bool {
	if q.Tier != p.Tier {
		return tierRank[q.Tier] < tierRank[p.Tier]
	}
	return cmp.Or(compareOrder(q, p), strings.Compare(q.Ref.Name, p.Ref.Name)) < 0
}

func compareOrder(a, b *netpol.Policy) int {
	switch {
	case a.HasOrder && !b.HasOrder:
		return -1
	case !a.HasOrder && b.HasOrder:
		return 1
	case a.HasOrder && b.HasOrder:
		return cmp.Compare(a.Order, b.Order)
	}
	return 0
}

// selectsAllOf reports whether q certainly selects every endpoint p can: q selects all() with
// no namespace, service account or host-only restriction, in p's namespace or globally.
func selectsAllOf(q, p *netpol.Policy) bool {
	if q.Selector() != nil && !q.Selector().IsAll() {
		return false
	}
	if q.Ref.Namespace != "" && q.Ref.Namespace != p.Ref.Namespace {
		return false
	}
	if g, ok := q.Object.(*calicov3.GlobalNetworkPolicy); ok {
		s := g.Spec
		if s.NamespaceSelector != "" || s.ServiceAccountSelector != "" || s.DoNotTrack || s.PreDNAT || s.ApplyOnForward {
			return false
		}
	}
	if n, ok := q.Object.(*calicov3.NetworkPolicy); ok && n.Spec.ServiceAccountSelector != "" {
		return false
	}
	return true
}

// matchesEverything reports whether a rule constrains nothing: any protocol, peer and port.
func matchesEverything(r netpol.Rule) bool {
	var zero netpol.Rule
	return r.Protocol == zero.Protocol && r.NotProtocol == zero.NotProtocol && r.ICMP == nil && r.NotICMP == nil &&
		r.IPVersion == 0 && !r.HTTP && emptyEntity(r.Src) && emptyEntity(r.Dst)
}

func emptyEntity(e netpol.Entity) bool {
	return len(e.Peers) == 0 && len(e.Nets) == 0 && len(e.NotNets) == 0 && e.Sel == nil && e.NotSel == nil &&
		e.NSSel == nil && e.SA == nil && e.Services == nil && len(e.Ports) == 0 && len(e.NotPorts) == 0
}

// sameMatch reports whether two rules match exactly the same packets as written.
func sameMatch(a, b netpol.Rule) bool {
	a.Index, a.Action, b.Index, b.Action = 0, 0, 0, 0
	return reflect.DeepEqual(a, b)
}
