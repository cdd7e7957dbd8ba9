package rego

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/flowguard/flowguard/netpol"
)

// apiVersionOf is the apiVersion of a rule kind name netpol reads.
func apiVersionOf(kind string) string {
	switch kind {
	case "Namespace", "Pod", "ReplicationController", "Service", "ServiceAccount":
		return "v1"
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		return "apps/v1"
	case "Job", "CronJob":
		return "batch/v1"
	case "NetworkPolicy":
		return "networking.k8s.io/v1"
	}
	switch kind {
	case adminGroup + "/AdminNetworkPolicy", adminGroup + "/BaselineAdminNetworkPolicy":
		return adminGroup + "/v1alpha1"
	case adminGroup + "/ClusterNetworkPolicy":
		return adminGroup + "/v1alpha2"
	}
	if strings.HasPrefix(kind, "projectcalico.org/") {
		return "projectcalico.org/v3"
	}
	return ""
}

// auditSubject is one cluster object an audit evaluates rules against.
type auditSubject struct {
	kind string // rule kind name
	obj  runtime.Object
}

// auditSubjects lists the cluster's objects of a rule kind. Network sets, tiers and host
// endpoints are held compiled, not as objects, and are not audit subjects.
func auditSubjects(c *netpol.Cluster, kind string) []auditSubject {
	var out []auditSubject
	switch kind {
	case "Namespace":
		for _, ns := range c.Namespaces() {
			out = append(out, auditSubject{kind, ns})
		}
	case "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob":
		for _, w := range c.Workloads() {
			if w.Kind == kind {
				if obj := c.WorkloadObject(w.WorkloadRef); obj != nil {
					out = append(out, auditSubject{kind, obj})
				}
			}
		}
	default:
		for _, p := range c.Policies() {
			if policyKindName(p.Ref.Kind) == kind {
				out = append(out, auditSubject{kind, p.Object})
			}
		}
	}
	return out
}

func policyKindName(k netpol.PolicyKind) string {
	switch {
	case k == netpol.KindKubernetesNetworkPolicy:
		return "NetworkPolicy"
	case k.Admin():
		return adminGroup + "/" + k.String()
	}
	return "projectcalico.org/" + k.String()
}

// Audit runs every audit rule over the State: each rule once per cluster object of its subject
// kinds, with operation "AUDIT". The builtins' answers are shared by the whole audit; each
// object's rules get Options.Deadline. A rule cut off or failing on one object is reported in
// Result.Errors and the audit goes on; only ctx ends it early, with ctx's error.
func (e *Engine) Audit(ctx context.Context, scope AuditScope) (Result, error) {
	set := e.set.Load()
	var res Result
	var cluster *netpol.Cluster
	if e.state != nil {
		cluster = e.state.Cluster()
	}
	if cluster == nil {
		cluster = netpol.NewCluster()
	}
	inScope := func(ns string) bool { return len(scope.Namespaces) == 0 || slices.Contains(scope.Namespaces, ns) }
	d := newDecision(ctx, e.state, &e.shared, e.opts.Lookback)
	hasTraffic := e.state != nil && e.state.Traffic() != nil
	skipped := map[string]bool{}

	for _, kind := range slices.Sorted(maps.Keys(set.bySubject)) {
		var rules []*compiledRule
		for _, cr := range set.bySubject[kind] {
			if len(scope.Rules) > 0 && !slices.Contains(scope.Rules, cr.rule.ID) {
				continue
			}
			if cr.rule.NeedsFlows && !hasTraffic {
				if !skipped[cr.rule.ID] {
					skipped[cr.rule.ID] = true
					res.Skipped = append(res.Skipped, cr.rule)
				}
				continue
			}
			rules = append(rules, cr)
		}
		if len(rules) == 0 {
			continue
		}
		for _, s := range auditSubjects(cluster, kind) {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("audit: %w", err)
			}
			obj, _, err := withTypeMeta(s.obj, kind)
			if err != nil {
				return res, fmt.Errorf("audit %s: %w", kind, err)
			}
			gv, _ := schema.ParseGroupVersion(apiVersionOf(kind))
			group, k := gv.Group, str(obj["kind"])
			meta, _ := obj["metadata"].(map[string]any)
			ns, name := str(meta["namespace"]), str(meta["name"])
			if kind == "Namespace" {
				ns = name
			}
			ref := ResourceRef{APIVersion: apiVersionOf(kind), Kind: k, Namespace: str(meta["namespace"]), Name: name}
			if (ns != "" && !inScope(ns)) || !scope.includes(ref) {
				continue
			}
			input, err := ast.InterfaceToValue(map[string]any{
				"operation": "AUDIT",
				"kind":      map[string]any{"group": group, "version": gv.Version, "kind": k},
				"namespace": str(meta["namespace"]), "name": name,
				"object": obj, "oldObject": nil, "userInfo": map[string]any{}, "dryRun": false,
			})
			if err != nil {
				return res, fmt.Errorf("audit %s %s: %w", kind, name, err)
			}
			if err := e.auditObject(ctx, d, rules, input, ref, &res); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// auditObject evaluates one object within the audit's decision under its own deadline.
func (e *Engine) auditObject(ctx context.Context, d *decision, rules []*compiledRule, input ast.Value, ref ResourceRef, res *Result) error {
	objCtx, cancel := context.WithTimeout(ctx, e.opts.Deadline)
	defer cancel()
	d.ctx, d.input = context.WithValue(objCtx, decisionKey{}, d), input
	err := e.evaluate(d, rules, input, ref, res)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("audit: %w", ctx.Err())
	}
	var re RuleError
	if errors.As(err, &re) {
		res.Errors = append(res.Errors, re)
		return nil
	}
	return err
}
