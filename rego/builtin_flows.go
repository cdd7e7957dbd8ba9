package rego

import (
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/flowguard/flowguard/flows"
)

// flowSpec is the argument of flowguard.flows.
type flowSpec struct {
	namespace, name string
	labels          map[string]string
	// ingress: traffic into the scope; egress: out of it; both for "any".
	ingress, egress bool
	allow, deny     bool
	limit           int
}

func parseFlowSpec(t *ast.Term) (flowSpec, error) {
	s := flowSpec{ingress: true, egress: true, allow: true, deny: true}
	v, err := ast.JSON(t.Value)
	if err != nil {
		return s, err
	}
	m, _ := v.(map[string]any)
	for k, val := range m {
		switch k {
		case "namespace":
			s.namespace, _ = val.(string)
		case "name":
			s.name, _ = val.(string)
		case "labels":
			obj, _ := val.(map[string]any)
			s.labels = map[string]string{}
			for lk, lv := range obj {
				s.labels[lk] = fmt.Sprint(lv)
			}
		case "direction":
			switch val {
			case "ingress":
				s.egress = false
			case "egress":
				s.ingress = false
			case "any":
			default:
				return s, fmt.Errorf("direction %v: want ingress, egress or any", val)
			}
		case "action":
			switch val {
			case "allow":
				s.deny = false
			case "deny":
				s.allow = false
			case "any":
			default:
				return s, fmt.Errorf("action %v: want allow, deny or any", val)
			}
		case "limit":
			n, ok := val.(json.Number)
			i, err := n.Int64()
			if !ok || err != nil || i < 0 {
				return s, fmt.Errorf("limit %v: want a non-negative integer", val)
			}
			s.limit = int(i)
		default:
			return s, fmt.Errorf("unknown field %q: want namespace, name, labels, direction, action, limit", k)
		}
	}
	return s, nil
}

// inScope reports whether an endpoint is in the spec's scope.
func (s flowSpec) inScope(e *flows.Endpoint) bool {
	if s.namespace != "" && e.Namespace != s.namespace {
		return false
	}
	if s.name != "" && e.Name != s.name {
		return false
	}
	for k, v := range s.labels {
		if got, ok := e.Labels.Get(k); !ok || got != v {
			return false
		}
	}
	return true
}

// flows answers flowguard.flows(spec): the observed connections into and/or out of a scope in
// the lookback window, grouped, most flows first. Denied flows count on the side that denied
// them: ingress denials at the destination, egress denials at the source.
func (d *decision) flows(args []*ast.Term) (ast.Value, error) {
	g, err := d.traffic()
	if err != nil {
		return nil, err
	}
	spec, err := parseFlowSpec(args[0])
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	q := d.window()
	if spec.namespace != "" || spec.name != "" {
		f := flows.EndpointFilter{Namespace: spec.namespace, Name: spec.name}
		switch {
		case spec.ingress && !spec.egress:
			q.Dst = f
		case spec.egress && !spec.ingress:
			q.Src = f
		default:
			q.Either = f
		}
	}
	conns, err := d.connections(g, q)
	if err != nil {
		return nil, err
	}
	var gs []group
	for _, c := range conns {
		into, outOf := spec.ingress && spec.inScope(&c.dst), spec.egress && spec.inScope(&c.src)
		if !into && !outOf {
			continue
		}
		var allowed, denied tally
		if spec.allow {
			allowed = c.allowed()
		}
		if spec.deny && into {
			denied = denied.merge(c.deniedIngress())
		}
		if spec.deny && outOf {
			denied = denied.merge(c.deniedEgress())
		}
		t := allowed.merge(denied)
		if t.flows == 0 {
			continue
		}
		gs = append(gs, group{c: c, t: t, extra: [][2]*ast.Term{
			{ast.StringTerm("allowed"), ast.UIntNumberTerm(allowed.flows)},
			{ast.StringTerm("denied"), ast.UIntNumberTerm(denied.flows)},
		}})
	}
	sortGroups(gs)
	return ast.NewObject(
		ast.Item(ast.StringTerm("groups"), ast.NewTerm(groupsValue(gs, spec.limit))),
		ast.Item(ast.StringTerm("total"), ast.IntNumberTerm(len(gs))),
		ast.Item(ast.StringTerm("flows"), ast.UIntNumberTerm(totals(gs))),
	), nil
}
