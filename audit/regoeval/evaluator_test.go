package regoeval

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/rego"
)

// manifests of a small cluster: namespace "open" has no policy at all, namespace "closed" has a
// default deny and one workload.
const manifests = `
apiVersion: v1
kind: Namespace
metadata: {name: open}
---
apiVersion: v1
kind: Namespace
metadata: {name: closed}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: open}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: closed}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: db}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: closed}
spec: {podSelector: {}, policyTypes: [Ingress]}
`

var now = time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)

func newEvaluator(t *testing.T) *Evaluator {
	t.Helper()
	c := netpol.NewCluster()
	if err := c.LoadReader(strings.NewReader(manifests), "manifests"); err != nil {
		t.Fatal(err)
	}
	return NewEvaluator(rego.NewStaticState(c, nil, now), Options{})
}

func found(res audit.Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.Rule+" "+f.Resource.String())
	}
	return out
}

func TestEvaluate(t *testing.T) {
	tests := map[string]struct {
		scope          audit.Scope
		wantFindings   []string
		wantNamespaces []string
	}{
		"every namespace when the scope names none": {
			scope: audit.Scope{Rules: []string{"missing-default-deny", "unprotected-workload"}},
			wantFindings: []string{
				"missing-default-deny Namespace open",
				"unprotected-workload Deployment open/web",
			},
			wantNamespaces: []string{"closed", "open"},
		},
		"only the namespaces in scope": {
			scope:          audit.Scope{Namespaces: []string{"closed"}, Rules: []string{"missing-default-deny", "unprotected-workload"}},
			wantNamespaces: []string{"closed"},
		},
		"an empty namespace list audits no namespace, where the engine would audit all": {
			scope:          audit.Scope{Namespaces: []string{}, Rules: []string{"missing-default-deny"}},
			wantNamespaces: []string{},
		},
		"parameters reach the rules": {
			scope: audit.Scope{Rules: []string{"missing-default-deny"},
				Parameters: map[string]map[string]any{"missing-default-deny": {"egress": true}}},
			wantFindings: []string{
				"missing-default-deny Namespace closed",
				"missing-default-deny Namespace open",
				"missing-default-deny Namespace open",
			},
			wantNamespaces: []string{"closed", "open"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := newEvaluator(t).Evaluate(context.Background(), tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantFindings, found(res)); diff != "" {
				t.Errorf("findings mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantNamespaces, res.Namespaces); diff != "" {
				t.Errorf("namespaces mismatch (-want +got):\n%s", diff)
			}
			if !res.EvaluatedAt.Equal(now) || res.Window != nil {
				t.Errorf("evaluated at %v with window %v, want the state's time and no window without traffic", res.EvaluatedAt, res.Window)
			}
		})
	}
}

func TestEvaluateSkipsFlowRulesWithoutTraffic(t *testing.T) {
	res, err := newEvaluator(t).Evaluate(context.Background(), audit.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, s := range res.Skipped {
		skipped = append(skipped, s.Rule)
	}
	slices.Sort(skipped)
	if want := []string{"denied-traffic", "staged-would-break", "unused-rule", "wider-than-observed"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
}

func TestEvaluatorReusesEnginesPerSettings(t *testing.T) {
	ev := newEvaluator(t)
	ctx := context.Background()
	for _, scope := range []audit.Scope{
		{Lookback: time.Hour},
		{Lookback: time.Hour, Rules: []string{"allow-all"}}, // rules do not need an engine of their own
		{Lookback: 2 * time.Hour},
		{Lookback: time.Hour, Parameters: map[string]map[string]any{"unused-rule": {"require_traffic": false}}},
	} {
		if _, err := ev.Evaluate(ctx, scope); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(ev.engines); n != 3 {
		t.Errorf("compiled %d engines, want 3 (one per lookback and parameter set)", n)
	}
}

func TestEvaluateInstallsUserRules(t *testing.T) {
	c := netpol.NewCluster()
	if err := c.LoadReader(strings.NewReader(manifests), "manifests"); err != nil {
		t.Fatal(err)
	}
	const module = `# METADATA
# title: Every namespace needs a team label
# custom:
#   id: team-label
#   severity: low
#   action: warn
#   targets: [audit]
#   subjects: [Namespace]
package shop.team_label

violation contains {"msg": sprintf("Namespace %s has no team label", [input.object.metadata.name]), "details": {}} if {
	not input.object.metadata.labels.team
}
`
	ev := NewEvaluator(rego.NewStaticState(c, nil, now), Options{UserRules: func() []rego.UserRule {
		return []rego.UserRule{{Name: "team-label", Source: module}}
	}})
	res, err := ev.Evaluate(context.Background(), audit.Scope{Rules: []string{"team-label"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"team-label Namespace closed", "team-label Namespace open"}
	if diff := cmp.Diff(want, found(res)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}

// TestEvaluateShardsMatchOneAudit shows that auditing the namespaces in shards, at once, finds
// exactly what one audit over all of them finds: namespaced findings from every shard, and those
// about objects that are not namespaced once.
func TestEvaluateShardsMatchOneAudit(t *testing.T) {
	c, err := netpol.Load(filepath.Join("..", "..", "examples", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	state := rego.NewStaticState(c, nil, now)
	ctx := context.Background()
	var want []string
	for _, workers := range []int{1, 2, 3, 8} {
		res, err := NewEvaluator(state, Options{Workers: workers}).Evaluate(ctx, audit.Scope{})
		if err != nil {
			t.Fatal(err)
		}
		got := found(res)
		if workers == 1 {
			want = got
			if len(want) == 0 {
				t.Fatal("the example finds nothing")
			}
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%d workers: findings mismatch (-one audit +shards):\n%s", workers, diff)
		}
	}
}
