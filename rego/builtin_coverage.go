package rego

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/netpol/selector"
)

// probe is an endpoint outside any cluster (TEST-NET-1, RFC 5737): the peer coverage is
// probed against.
func probeEndpoint() *netpol.Endpoint {
	return netpol.AddrEndpoint(netip.AddrFrom4([4]byte{192, 0, 2, 1}))
}

// covered answers flowguard.covered(workload): whether any policy selects the workload for
// ingress and for egress, the policies that decide for it, and, for host-network workloads,
// the Calico policies that select a host endpoint (the only policy that governs them).
func (d *decision) covered(args []*ast.Term) (ast.Value, error) {
	obj, err := d.requiredObjectArg(args[0], "a workload object")
	if err != nil {
		return nil, err
	}
	w, err := d.world()
	if err != nil {
		return nil, err
	}
	meta, _ := obj["metadata"].(map[string]any)
	ref := netpol.WorkloadRef{Kind: str(obj["kind"]), Namespace: str(meta["namespace"]), Name: str(meta["name"])}
	ep := netpol.WorkloadEndpoint(ref)
	probe := probeEndpoint()
	in := w.Explain(probe, ep, netpol.TCP(0)).Ingress
	out := w.Explain(ep, probe, netpol.TCP(0)).Egress

	hostPolicies := ast.NewArray()
	if hostNetwork(obj) {
		for _, name := range hostEndpointPolicies(w.Cluster()) {
			hostPolicies = hostPolicies.Append(ast.StringTerm(name))
		}
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("ingress"), ast.BooleanTerm(selected(in))),
		ast.Item(ast.StringTerm("egress"), ast.BooleanTerm(selected(out))),
		ast.Item(ast.StringTerm("ingress_policies"), ast.NewTerm(tracePolicies(in))),
		ast.Item(ast.StringTerm("egress_policies"), ast.NewTerm(tracePolicies(out))),
		ast.Item(ast.StringTerm("host_endpoint_policies"), ast.NewTerm(hostPolicies)),
	), nil
}

// selected reports whether a decision was made by policy rather than by the absence of it.
func selected(dec netpol.Decision) bool {
	return dec.Hit.Reason != netpol.ReasonNoPolicy && dec.Hit.Reason != netpol.ReasonNotEnforced
}

// tracePolicies names the policies a decision's trace went through, in order.
func tracePolicies(dec netpol.Decision) *ast.Array {
	var names []string
	for _, h := range dec.Trace {
		if h.Policy != nil && !slices.Contains(names, policyText(h.Policy.Ref)) {
			names = append(names, policyText(h.Policy.Ref))
		}
	}
	out := ast.NewArray()
	for _, n := range names {
		out = out.Append(ast.StringTerm(n))
	}
	return out
}

func hostNetwork(obj map[string]any) bool {
	spec, _ := obj["spec"].(map[string]any)
	switch str(obj["kind"]) {
	case "Pod":
	case "CronJob":
		spec = dig(spec, "jobTemplate", "spec", "template", "spec")
	default:
		spec = dig(spec, "template", "spec")
	}
	b, _ := spec["hostNetwork"].(bool)
	return b
}

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ = m[k].(map[string]any)
	}
	return m
}

// hostEndpointPolicies names the enforced Calico policies that select at least one host
// endpoint.
func hostEndpointPolicies(c *netpol.Cluster) []string {
	hosts := c.HostEndpoints()
	if len(hosts) == 0 {
		return nil
	}
	var out []string
	for _, p := range c.Policies() {
		if p.Kubernetes || p.Ref.Kind.Staged() || p.Ref.Namespace != "" {
			continue
		}
		for _, h := range hosts {
			if p.Selector() == nil || p.Selector().Matches(selector.Map(h.Labels)) {
				out = append(out, policyText(p.Ref))
				break
			}
		}
	}
	return out
}

// defaultDeny answers flowguard.default_deny(namespace): per direction, the policies that
// isolate a new, unlabelled pod of the namespace, so that it is denied what no rule allows.
// An empty list means such a pod would be open in that direction.
func (d *decision) defaultDeny(args []*ast.Term) (ast.Value, error) {
	ns, ok := args[0].Value.(ast.String)
	if !ok {
		return nil, fmt.Errorf("want a namespace name")
	}
	w := d.base()
	pod := netpol.WorkloadEndpoint(netpol.WorkloadRef{Kind: "Pod", Namespace: string(ns), Name: "flowguard-default-deny-probe"})
	probe := probeEndpoint()
	in := w.Explain(probe, pod, netpol.TCP(0)).Ingress
	out := w.Explain(pod, probe, netpol.TCP(0)).Egress
	deny := func(dec netpol.Decision) *ast.Array {
		if dec.Allowed || !selected(dec) {
			return ast.NewArray()
		}
		return tracePolicies(dec)
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("ingress"), ast.NewTerm(deny(in))),
		ast.Item(ast.StringTerm("egress"), ast.NewTerm(deny(out))),
	), nil
}
