package audit

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

func TestToViolation(t *testing.T) {
	narrowed := map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": "api", "namespace": "shop"},
		"spec":     map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "api"}}},
	}
	tests := map[string]struct {
		finding Finding
		limits  DetailLimits
		want    v1alpha1.Violation
	}{
		"a bare finding has no fix and no evidence": {
			finding: finding("missing-default-deny", "medium", "Namespace", "", "shop"),
			want: v1alpha1.Violation{Message: "Namespace shop broke missing-default-deny", Rule: "missing-default-deny",
				Severity: "medium", Resource: v1alpha1.ResourceRef{Kind: "Namespace", Name: "shop"}},
		},
		"flows become lines, capped, with the rest counted": {
			finding: finding("denied-traffic", "info", "Pod", "shop", "p", withFlows(3)),
			limits:  DetailLimits{MaxFlows: 2},
			want: v1alpha1.Violation{Message: "Pod p broke denied-traffic", Rule: "denied-traffic", Severity: "info",
				Resource: v1alpha1.ResourceRef{Kind: "Pod", Namespace: "shop", Name: "p"},
				SupportingEvidence: &v1alpha1.Evidence{FlowsOmitted: 1, Flows: []string{
					"shop/frontend -> shop/api TCP/8000 allow, 1 connection, last seen 2026-03-01T03:00:00Z",
					"shop/frontend -> shop/api TCP/8001 allow, 2 connections, last seen 2026-03-01T03:00:00Z",
				}}},
		},
		"facts become text: strings as they are, lists joined, objects as labelled pairs": {
			finding: finding("dangling-selector", "low", "NetworkPolicy", "shop", "np", func(f *Finding) {
				f.Evidence.Facts = map[string]any{"selector": "app == 'gone'", "rule": 2, "peers": []any{"a", "b"},
					"observed": map[string]any{"flows": 2880.0, "last_seen": "2025-10-02T00:00:00Z", "ports": []any{"TCP/8080"}}}
			}),
			want: v1alpha1.Violation{Message: "NetworkPolicy np broke dangling-selector", Rule: "dangling-selector", Severity: "low",
				Resource: v1alpha1.ResourceRef{Kind: "NetworkPolicy", Namespace: "shop", Name: "np"},
				SupportingEvidence: &v1alpha1.Evidence{Facts: map[string]string{
					"selector": "app == 'gone'", "rule": "2", "peers": "a, b",
					"observed": "flows: 2880; last seen: 2025-10-02T00:00:00Z; ports: TCP/8080"}}},
		},
		"a suggested policy becomes YAML lines": {
			finding: finding("allow-all", "high", "NetworkPolicy", "shop", "api", func(f *Finding) {
				f.Fix = &Fix{Description: "Replace the policy with the narrowed one.", Policy: narrowed}
			}),
			want: v1alpha1.Violation{Message: "NetworkPolicy api broke allow-all", Rule: "allow-all", Severity: "high",
				Resource: v1alpha1.ResourceRef{Kind: "NetworkPolicy", Namespace: "shop", Name: "api"},
				SuggestedFix: &v1alpha1.SuggestedFix{Description: "Replace the policy with the narrowed one.", Policy: []string{
					"apiVersion: networking.k8s.io/v1", "kind: NetworkPolicy", "metadata:", "  name: api", "  namespace: shop",
					"spec:", "  podSelector:", "    matchLabels:", "      app: api",
				}}},
		},
		"a suggested policy too long to list is replaced by a pointer": {
			finding: finding("allow-all", "high", "NetworkPolicy", "shop", "api", func(f *Finding) {
				f.Fix = &Fix{Description: "Narrow it.", Policy: narrowed}
			}),
			limits: DetailLimits{MaxPolicyLines: 3},
			want: v1alpha1.Violation{Message: "NetworkPolicy api broke allow-all", Rule: "allow-all", Severity: "high",
				Resource: v1alpha1.ResourceRef{Kind: "NetworkPolicy", Namespace: "shop", Name: "api"},
				SuggestedFix: &v1alpha1.SuggestedFix{Description: "Narrow it. (The suggested manifest, 9 lines, is too long " +
					"to list here; `flowguard recommend` prints it.)"}},
		},
		"long messages are cut on a rune boundary and marked": {
			finding: finding("allow-all", "high", "NetworkPolicy", "shop", "api", func(f *Finding) { f.Message = "ab€€" }),
			limits:  DetailLimits{MaxMessageLen: 7},
			want: v1alpha1.Violation{Message: "ab…", Rule: "allow-all", Severity: "high",
				Resource: v1alpha1.ResourceRef{Kind: "NetworkPolicy", Namespace: "shop", Name: "api"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := toViolation(tc.finding, tc.limits.withDefaults())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("toViolation mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFlowLine(t *testing.T) {
	tests := map[string]struct {
		flow Flow
		want string
	}{
		"a flow without port, action or time (aggregated away)": {
			flow: Flow{Source: "pub", Destination: "shop/web", Count: 7},
			want: "pub -> shop/web, 7 connections",
		},
		"a protocol without a port": {
			flow: Flow{Source: "a/x", Destination: "b/y", Protocol: "ICMP", Action: "deny", Count: 1},
			want: "a/x -> b/y ICMP deny, 1 connection",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := FlowLine(tc.flow); got != tc.want {
				t.Errorf("FlowLine = %q, want %q", got, tc.want)
			}
		})
	}
	if got := truncate(strings.Repeat("x", 10), 10); got != strings.Repeat("x", 10) {
		t.Errorf("a string at the limit was cut: %q", got)
	}
}
