package audit

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// finding builds a Finding about kind ns/name; modifiers adjust it.
func finding(rule string, sev Severity, kind, ns, name string, mods ...func(*Finding)) Finding {
	f := Finding{Rule: rule, Severity: sev, Resource: Resource{Kind: kind, Namespace: ns, Name: name},
		Message: kind + " " + name + " broke " + rule}
	for _, m := range mods {
		m(&f)
	}
	return f
}

func counts(c, h, m, l, i int32) v1alpha1.SeverityCounts {
	return v1alpha1.SeverityCounts{Critical: c, High: h, Medium: m, Low: l, Info: i}
}

func TestScore(t *testing.T) {
	tests := map[string]struct {
		counts v1alpha1.SeverityCounts
		want   int
	}{
		"nothing found is a perfect score":      {counts(0, 0, 0, 0, 0), 100},
		"info findings cost nothing":            {counts(0, 0, 0, 0, 50), 100},
		"one critical costs a quarter":          {counts(1, 0, 0, 0, 0), 75},
		"penalties add up":                      {counts(1, 2, 3, 4, 0), 100 - 25 - 20 - 9 - 4},
		"the score never goes below zero":       {counts(10, 0, 0, 0, 0), 0},
		"huge counts do not overflow the floor": {counts(2_000_000_000, 2_000_000_000, 0, 0, 0), 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Score(tc.counts); got != tc.want {
				t.Errorf("Score(%+v) = %d, want %d", tc.counts, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := map[string]struct {
		result Result
		want   Summary
	}{
		"an empty audit of two namespaces is clean everywhere": {
			result: Result{Namespaces: []string{"a", "b"}},
			want: Summary{Score: 100, Cluster: NamespaceSummary{Score: 100},
				Namespaces: []NamespaceSummary{{Namespace: "a", Score: 100}, {Namespace: "b", Score: 100}}},
		},
		"findings are split by namespace, worst namespace first, and the cluster score is the mean": {
			result: Result{Namespaces: []string{"clean", "shop"}, Findings: []Finding{
				finding("allow-all", "high", "NetworkPolicy", "shop", "open"),
				finding("unused-rule", "low", "NetworkPolicy", "shop", "open"),
				finding("shadowed-rule", "medium", "GlobalNetworkPolicy", "", "deny-all"),
			}},
			want: Summary{
				Score: (89 + 100 + 97) / 3, Total: 3, BySeverity: counts(0, 1, 1, 1, 0),
				ByRule: []v1alpha1.RuleCount{
					{Rule: "allow-all", Severity: "high", Count: 1},
					{Rule: "shadowed-rule", Severity: "medium", Count: 1},
					{Rule: "unused-rule", Severity: "low", Count: 1},
				},
				Namespaces: []NamespaceSummary{
					{Namespace: "shop", Score: 89, Total: 2, BySeverity: counts(0, 1, 0, 1, 0)},
					{Namespace: "clean", Score: 100},
				},
				Cluster: NamespaceSummary{Score: 97, Total: 1, BySeverity: counts(0, 0, 1, 0, 0)},
			},
		},
		"a finding about a Namespace belongs to that namespace": {
			result: Result{Namespaces: []string{"shop"}, Findings: []Finding{
				finding("missing-default-deny", "medium", "Namespace", "", "shop"),
			}},
			want: Summary{
				Score: (97 + 100) / 2, Total: 1, BySeverity: counts(0, 0, 1, 0, 0),
				ByRule:     []v1alpha1.RuleCount{{Rule: "missing-default-deny", Severity: "medium", Count: 1}},
				Namespaces: []NamespaceSummary{{Namespace: "shop", Score: 97, Total: 1, BySeverity: counts(0, 0, 1, 0, 0)}},
				Cluster:    NamespaceSummary{Score: 100},
			},
		},
		"a finding in a namespace outside the audited list is still counted": {
			result: Result{Findings: []Finding{finding("denied-traffic", "info", "Pod", "late", "p")}},
			want: Summary{
				Score: 100, Total: 1, BySeverity: counts(0, 0, 0, 0, 1),
				ByRule:     []v1alpha1.RuleCount{{Rule: "denied-traffic", Severity: "info", Count: 1}},
				Namespaces: []NamespaceSummary{{Namespace: "late", Score: 100, Total: 1, BySeverity: counts(0, 0, 0, 0, 1)}},
				Cluster:    NamespaceSummary{Score: 100},
			},
		},
		"rules are listed most severe first, then by count": {
			result: Result{Findings: []Finding{
				finding("b-rule", "low", "Pod", "x", "1"),
				finding("a-rule", "low", "Pod", "x", "2"),
				finding("b-rule", "low", "Pod", "x", "3"),
				finding("c-rule", "critical", "Pod", "x", "4"),
			}},
			want: Summary{
				Score: (100 - 25 - 3 + 100) / 2, Total: 4, BySeverity: counts(1, 0, 0, 3, 0),
				ByRule: []v1alpha1.RuleCount{
					{Rule: "c-rule", Severity: "critical", Count: 1},
					{Rule: "b-rule", Severity: "low", Count: 2},
					{Rule: "a-rule", Severity: "low", Count: 1},
				},
				Namespaces: []NamespaceSummary{{Namespace: "x", Score: 72, Total: 4, BySeverity: counts(1, 0, 0, 3, 0)}},
				Cluster:    NamespaceSummary{Score: 100},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.result.Summarize()); diff != "" {
				t.Errorf("Summarize() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSortFindings(t *testing.T) {
	fs := []Finding{
		finding("unused-rule", "low", "NetworkPolicy", "b", "x"),
		finding("allow-all", "high", "NetworkPolicy", "b", "y"),
		finding("allow-all", "high", "NetworkPolicy", "a", "z"),
		finding("breaking", "critical", "NetworkPolicy", "c", "w"),
		finding("strange", "unknown", "NetworkPolicy", "c", "v"),
	}
	SortFindings(fs)
	var got []string
	for _, f := range fs {
		got = append(got, string(f.Severity)+" "+f.Rule+" "+f.Resource.String())
	}
	want := []string{
		"critical breaking NetworkPolicy c/w",
		"high allow-all NetworkPolicy a/z",
		"high allow-all NetworkPolicy b/y",
		"low unused-rule NetworkPolicy b/x",
		"unknown strange NetworkPolicy c/v",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order mismatch (-want +got):\n%s", diff)
	}
}
