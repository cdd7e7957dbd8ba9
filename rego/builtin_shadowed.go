package rego

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/flowguard/flowguard/netpol"
)

// shadowed answers flowguard.shadowed(policy): the rules of a policy that can never decide,
// as netpol's shadowing analysis finds them (netpol.Cluster.Shadowed), with what decides first
// and why, worded for a finding.
func (d *decision) shadowed(args []*ast.Term) (ast.Value, error) {
	_, ref, err := d.policyArg(args[0])
	if err != nil {
		return nil, err
	}
	w, err := d.world()
	if err != nil {
		return nil, err
	}
	out := ast.NewArray()
	p := w.Cluster().Policy(ref)
	if p == nil || p.Kubernetes {
		return out, nil
	}
	for _, s := range w.Cluster().Shadowed(p) {
		out = out.Append(ast.NewTerm(ast.NewObject(
			ast.Item(ast.StringTerm("direction"), ast.StringTerm(dirName(s.Dir))),
			ast.Item(ast.StringTerm("index"), ast.IntNumberTerm(s.Index)),
			ast.Item(ast.StringTerm("path"), ast.StringTerm(rulePath(s.Dir, s.Index))),
			ast.Item(ast.StringTerm("by"), ast.StringTerm(policyText(s.By)+" "+rulePath(s.Dir, s.ByIndex))),
			ast.Item(ast.StringTerm("reason"), ast.StringTerm(shadowReason(s, p.Tier))),
		)))
	}
	return out, nil
}

func rulePath(dir netpol.Direction, index int) string {
	return fmt.Sprintf("spec.%s[%d]", dirName(dir), index)
}

// shadowReason words why a rule of a policy in tier can never decide.
func shadowReason(s netpol.Shadow, tier string) string {
	path := rulePath(s.Dir, s.ByIndex)
	switch s.Cause {
	case netpol.ShadowedByEarlierRule:
		return fmt.Sprintf("%s (%s) matches every packet, so evaluation never reaches it", path, s.ByAction)
	case netpol.ShadowedBySameMatch:
		return fmt.Sprintf("%s (%s) matches exactly the same packets and comes first", path, s.ByAction)
	}
	where := "an earlier policy of tier " + s.ByTier
	if s.ByTier != tier {
		where = "earlier tier " + s.ByTier
	}
	return fmt.Sprintf("%s, %s, selects every endpoint this policy does and its first %s rule (%s) matches every packet",
		policyText(s.By), where, dirName(s.Dir), s.ByAction)
}
