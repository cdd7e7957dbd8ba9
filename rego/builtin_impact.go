package rego

import (
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/netpol/selector"
)

// impact answers flowguard.impact(object, old_object, operation): the observed connections in
// the lookback window whose verdict the change flips, "broken" (observed allowed, denied after)
// and "opened" (observed denied, allowed after), each grouped by source, destination, port and
// protocol with counts, last seen and both verdicts. For a staged policy the change is
// enforcing it (or, with stagedAction Delete, deleting its enforced twin).
func (d *decision) impact(args []*ast.Term) (ast.Value, error) {
	g, err := d.traffic()
	if err != nil {
		return nil, err
	}
	op, _ := args[2].Value.(ast.String)
	obj, err := d.objectArg(args[0])
	if err != nil {
		return nil, fmt.Errorf("object: %w", err)
	}
	old, err := d.objectArg(args[1])
	if err != nil {
		return nil, fmt.Errorf("old object: %w", err)
	}
	subject := obj
	if op == "DELETE" || subject == nil {
		subject = old
	}
	if subject == nil {
		return impactValue(nil, nil, 0), nil
	}

	base := d.base()
	var after *netpol.Engine
	switch kind := objectKind(subject); {
	case isStaged(kind):
		staged, err := typedObject(subject)
		if err != nil {
			return nil, err
		}
		twinOp, oldTwin, newTwin, ok := enforcedTwin(base.Cluster(), staged)
		if !ok {
			return impactValue(nil, nil, 0), nil
		}
		if after, err = d.changedTyped(twinOp, oldTwin, newTwin); err != nil {
			return nil, err
		}
	case d.isRequest(args[0], args[1], args[2]):
		if after, err = d.world(); err != nil {
			return nil, err
		}
	default:
		if after, err = d.changed(netpol.Operation(op), old, obj); err != nil {
			return nil, err
		}
	}
	if after == base {
		return impactValue(nil, nil, 0), nil
	}

	q := d.window()
	q.Either = changeScope(base, after, subject, old, obj)
	observed, err := d.connections(g, q)
	if err != nil {
		return nil, err
	}
	conns := make([]netpol.Connection, 0, len(observed))
	for _, c := range observed {
		conns = append(conns, netpol.Connection{
			Src:    d.endpoint(g, c.key.src, &c.src),
			Dst:    d.endpoint(g, c.key.dst, &c.dst),
			Packet: netpol.PacketOf(c.key.proto, c.key.port),
		})
	}
	impacted, err := netpol.Impact(d.ctx, base, after, conns)
	if err != nil {
		return nil, err
	}
	var broken, opened []group
	for _, ic := range impacted {
		c := observed[ic.Index]
		extra := [][2]*ast.Term{
			{ast.StringTerm("before"), ast.NewTerm(verdictValue(ic.Before))},
			{ast.StringTerm("after"), ast.NewTerm(verdictValue(ic.After))},
		}
		switch {
		case ic.Before.Allowed && !ic.After.Allowed && c.allowed().flows > 0:
			broken = append(broken, group{c: c, t: c.allowed(), extra: extra})
		case !ic.Before.Allowed && ic.After.Allowed:
			if t := c.deniedIngress().merge(c.deniedEgress()); t.flows > 0 {
				opened = append(opened, group{c: c, t: t, extra: extra})
			}
		}
	}
	return impactValue(broken, opened, len(conns)), nil
}

func impactValue(broken, opened []group, evaluated int) ast.Value {
	sortGroups(broken)
	sortGroups(opened)
	return ast.NewObject(
		ast.Item(ast.StringTerm("broken"), ast.NewTerm(groupsValue(broken, 0))),
		ast.Item(ast.StringTerm("broken_total"), ast.IntNumberTerm(len(broken))),
		ast.Item(ast.StringTerm("broken_flows"), ast.UIntNumberTerm(totals(broken))),
		ast.Item(ast.StringTerm("opened"), ast.NewTerm(groupsValue(opened, 0))),
		ast.Item(ast.StringTerm("opened_total"), ast.IntNumberTerm(len(opened))),
		ast.Item(ast.StringTerm("opened_flows"), ast.UIntNumberTerm(totals(opened))),
		ast.Item(ast.StringTerm("evaluated"), ast.IntNumberTerm(evaluated)),
	)
}

// changeScope selects the connections a change can touch by one of their ends, so that only
// those are read from the graph and given to netpol: a policy changes decisions only at the
// endpoints it (before or after) selects; a workload's labels only matter for connections it
// takes part in; a namespace's labels for those with an end in it. Labels are matched as the
// flows reported them. Sets, tiers and global policies that select everything reach any
// connection: the zero filter.
func changeScope(before, after *netpol.Engine, subject, old, obj map[string]any) flows.EndpointFilter {
	meta, _ := subject["metadata"].(map[string]any)
	ns := str(meta["namespace"])
	switch kind := objectKind(subject); kind {
	case "Namespace":
		return flows.EndpointFilter{Namespace: str(meta["name"])}
	case "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob":
		var sets []map[string]any
		for _, o := range []map[string]any{old, obj} {
			if l := templateLabels(o); len(l) > 0 {
				sets = append(sets, l)
			}
		}
		f := flows.EndpointFilter{Namespace: ns}
		if len(sets) > 0 {
			f.Labels = flows.LabelFunc(func(l flows.Labels) bool {
				return slices.ContainsFunc(sets, func(want map[string]any) bool { return hasLabels(l, want) })
			})
		}
		return f
	case "NetworkPolicy", "projectcalico.org/NetworkPolicy", "projectcalico.org/GlobalNetworkPolicy":
		ref, _ := policyRefOf(subject)
		var sels []*selector.Selector
		for _, e := range []*netpol.Engine{before, after} {
			p := e.Cluster().Policy(ref)
			if p == nil {
				continue
			}
			if p.Selector() == nil || p.Selector().IsAll() {
				return flows.EndpointFilter{Namespace: ref.Namespace}
			}
			sels = append(sels, p.Selector())
		}
		return flows.EndpointFilter{Namespace: ref.Namespace, Labels: flows.LabelFunc(func(l flows.Labels) bool {
			return slices.ContainsFunc(sels, func(s *selector.Selector) bool { return s.Matches(l) })
		})}
	case "projectcalico.org/StagedNetworkPolicy", "projectcalico.org/StagedKubernetesNetworkPolicy":
		return flows.EndpointFilter{Namespace: ns}
	}
	return flows.EndpointFilter{}
}

// templateLabels are the labels of a Pod or of a workload's pod template.
func templateLabels(obj map[string]any) map[string]any {
	if obj == nil {
		return nil
	}
	meta := dig(obj, "metadata")
	switch str(obj["kind"]) {
	case "Pod":
	case "CronJob":
		meta = dig(obj, "spec", "jobTemplate", "spec", "template", "metadata")
	default:
		meta = dig(obj, "spec", "template", "metadata")
	}
	l, _ := meta["labels"].(map[string]any)
	return l
}

// hasLabels reports whether l holds every label of want.
func hasLabels(l flows.Labels, want map[string]any) bool {
	for k, v := range want {
		if got, ok := l.Get(k); !ok || got != str(v) {
			return false
		}
	}
	return true
}

func isStaged(kind string) bool {
	switch kind {
	case "projectcalico.org/StagedNetworkPolicy", "projectcalico.org/StagedGlobalNetworkPolicy",
		"projectcalico.org/StagedKubernetesNetworkPolicy":
		return true
	}
	return false
}

func verdictValue(v netpol.Verdict) ast.Object {
	return ast.NewObject(
		ast.Item(ast.StringTerm("allowed"), ast.BooleanTerm(v.Allowed)),
		ast.Item(ast.StringTerm("egress"), ast.NewTerm(decisionValue(v.Egress))),
		ast.Item(ast.StringTerm("ingress"), ast.NewTerm(decisionValue(v.Ingress))),
	)
}

func decisionValue(dec netpol.Decision) ast.Object {
	h := dec.Hit
	policy := ""
	if h.Policy != nil {
		policy = policyText(h.Policy.Ref)
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("allowed"), ast.BooleanTerm(dec.Allowed)),
		ast.Item(ast.StringTerm("reason"), ast.StringTerm(h.Reason.Code())),
		ast.Item(ast.StringTerm("action"), ast.StringTerm(h.Action.String())),
		ast.Item(ast.StringTerm("tier"), ast.StringTerm(h.Tier)),
		ast.Item(ast.StringTerm("policy"), ast.StringTerm(policy)),
		ast.Item(ast.StringTerm("rule"), ast.IntNumberTerm(h.RuleIndex)),
		ast.Item(ast.StringTerm("decided_by"), ast.StringTerm(h.String())),
	)
}
