package regoeval

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/rego"
)

func TestFromViolation(t *testing.T) {
	allowAll := rego.Rule{ID: "wider-than-observed", Title: "An allow rule is far wider than the traffic it carries", Severity: rego.SeverityMedium}
	np := rego.ResourceRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "shop", Name: "api"}
	narrowed := map[string]any{"from": []any{map[string]any{"podSelector": map[string]any{}}}}
	tests := map[string]struct {
		violation rego.Violation
		want      audit.Finding
	}{
		"flow groups become flows, the total is kept and other details become facts": {
			violation: rego.Violation{Rule: rego.Rule{ID: "denied-traffic", Severity: rego.SeverityLow}, Msg: "denied",
				Resource: rego.ResourceRef{APIVersion: "v1", Kind: "Namespace", Name: "shop"},
				Details: map[string]any{
					"total": json.Number("3"), "connections": json.Number("310"),
					"flows": []any{
						map[string]any{"flow": "pub -> shop/db-*:5432/TCP", "count": json.Number("310"), "last_seen": "2025-10-01T09:00:00Z"},
						map[string]any{"flow": "shop/x-* -> shop/y-*", "count": 2.0},
					},
				}},
			want: audit.Finding{Rule: "denied-traffic", Severity: "low", Message: "denied",
				Resource: audit.Resource{APIVersion: "v1", Kind: "Namespace", Name: "shop"},
				Evidence: audit.Evidence{FlowsTotal: 3, Facts: map[string]any{"connections": json.Number("310")}, Flows: []audit.Flow{
					{Source: "pub", Destination: "shop/db-*", Port: 5432, Protocol: "TCP", Count: 310,
						LastSeen: time.Date(2025, 10, 1, 9, 0, 0, 0, time.UTC)},
					{Source: "shop/x-*", Destination: "shop/y-*", Count: 2},
				}}},
		},
		"structured flow fields win over the text": {
			violation: rego.Violation{Rule: rego.Rule{ID: "staged-would-break"}, Details: map[string]any{
				"flows": []any{map[string]any{"flow": "a -> b:1/UDP", "source": "shop/web", "action": "allow", "port": 8080.0}},
			}},
			want: audit.Finding{Rule: "staged-would-break", Evidence: audit.Evidence{FlowsTotal: 1, Flows: []audit.Flow{
				{Source: "shop/web", Destination: "b", Port: 8080, Protocol: "UDP", Action: "allow"}}}},
		},
		"a group of flowguard.flows without an action takes it from its counts": {
			violation: rego.Violation{Rule: rego.Rule{ID: "denied-traffic"}, Details: map[string]any{
				"flows": []any{
					map[string]any{"flow": "a -> b:1/UDP", "allowed": json.Number("0"), "denied": json.Number("12")},
					map[string]any{"flow": "a -> c:1/UDP", "allowed": json.Number("3"), "denied": json.Number("0")},
					map[string]any{"flow": "a -> d:1/UDP", "allowed": json.Number("3"), "denied": json.Number("2")},
				},
			}},
			want: audit.Finding{Rule: "denied-traffic", Evidence: audit.Evidence{FlowsTotal: 3, Flows: []audit.Flow{
				{Source: "a", Destination: "b", Port: 1, Protocol: "UDP", Action: "deny"},
				{Source: "a", Destination: "c", Port: 1, Protocol: "UDP", Action: "allow"},
				{Source: "a", Destination: "d", Port: 1, Protocol: "UDP", Action: "allow 3, deny 2"},
			}}},
		},
		"a group of flowguard.impact says its verdict before and after, and what denies it": {
			violation: rego.Violation{Rule: rego.Rule{ID: "staged-would-break"}, Details: map[string]any{
				"flows": []any{map[string]any{"flow": "a -> b:80/TCP",
					"before": map[string]any{"allowed": true},
					"after": map[string]any{"allowed": false,
						"egress":  map[string]any{"allowed": true, "decided_by": "no policy selects the source"},
						"ingress": map[string]any{"allowed": false, "decided_by": "StagedNetworkPolicy shop/lockdown rule 0: Deny"}},
				}},
			}},
			want: audit.Finding{Rule: "staged-would-break", Evidence: audit.Evidence{FlowsTotal: 1, Flows: []audit.Flow{
				{Source: "a", Destination: "b", Port: 80, Protocol: "TCP", Action: "allow, then deny by StagedNetworkPolicy shop/lockdown rule 0: Deny"},
			}}},
		},
		"a manifest fix is applied as it is": {
			violation: rego.Violation{Rule: rego.Rule{ID: "missing-default-deny"}, Details: map[string]any{
				"direction": "ingress",
				"fix":       map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"},
			}},
			want: audit.Finding{Rule: "missing-default-deny", Evidence: audit.Evidence{Facts: map[string]any{"direction": "ingress"}},
				Fix: &audit.Fix{Description: "Apply this NetworkPolicy.", Policy: map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"}}},
		},
		"a rule fix replaces the rule at details.path": {
			violation: rego.Violation{Rule: allowAll, Resource: np, Msg: "wide", Details: map[string]any{
				"direction": "ingress", "path": "spec.ingress[0]", "fix": narrowed,
			}},
			want: audit.Finding{Rule: "wider-than-observed", Title: allowAll.Title, Severity: "medium", Message: "wide",
				Resource: audit.Resource{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "shop", Name: "api"},
				Evidence: audit.Evidence{Facts: map[string]any{"direction": "ingress", "path": "spec.ingress[0]"}},
				Fix: &audit.Fix{Description: "Replace ingress rule spec.ingress[0] with this one, narrowed to the observed traffic.",
					Policy: narrowed}},
		},
		"a sentence fix is a description": {
			violation: rego.Violation{Rule: rego.Rule{ID: "host-network-bypass"}, Details: map[string]any{"fix": "Use a HostEndpoint policy."}},
			want:      audit.Finding{Rule: "host-network-bypass", Fix: &audit.Fix{Description: "Use a HostEndpoint policy."}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, FromViolation(tc.violation)); diff != "" {
				t.Errorf("FromViolation mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromRegoSkips(t *testing.T) {
	_, skipped := FromRego(rego.Result{
		Skipped: []rego.Rule{{ID: "unused-rule"}},
		Errors:  []rego.RuleError{{Rule: rego.Rule{ID: "mine"}, Err: errors.New("boom")}},
	})
	want := []audit.Skipped{
		{Rule: "unused-rule", Reason: "needs observed traffic, and none is loaded"},
		{Rule: "mine", Reason: "evaluation failed: boom"},
	}
	if diff := cmp.Diff(want, skipped); diff != "" {
		t.Errorf("skipped mismatch (-want +got):\n%s", diff)
	}
}
